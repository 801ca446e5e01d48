import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deadlines, type Deadline } from '../../src/gateway/deadlines.js';

// The route timeouts of every request in flight share one sweep timer. These
// tests pin down what the gateway relies on: a deadline fires once and late
// by at most a tick, a cancelled one never fires, and a finished request is
// not kept alive by the table (it was, once, and every request then survived
// into the old generation: a tenth of a mutation's throughput).
//
// The clock and the sweep timer are mocked, and time moves one millisecond
// at a time, so no assertion depends on how busy the machine is.

beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

/** Moves the mocked clock `ms` forward, a millisecond at a time (the sweep reads Date.now()). */
function advance(ms: number): void {
  for (let i = 0; i < ms; i++) mock.timers.tick(1);
}

test('a deadline fires once, no earlier than its time and at most one sweep tick late; a cancelled one never fires', () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  deadlines.add(40, () => fired.push(`at ${Date.now()}`));
  const cancelled = deadlines.add(40, () => fired.push('cancelled'));
  deadlines.cancel(cancelled);
  deadlines.cancel(cancelled); // twice is harmless
  assert.equal(deadlines.size, 1);
  advance(39);
  assert.deepEqual(fired, [], 'fired before its time');
  // A 40 ms timeout is swept every 5 ms (a tenth of it, at least 5).
  advance(5);
  assert.equal(fired.length, 1, fired.join(', '));
  const at = Number(/\d+/.exec(fired[0]!)![0]);
  assert.ok(at >= 40 && at <= 45, `fired at ${at} ms`);
  advance(200);
  assert.equal(fired.length, 1, 'fired twice');
  assert.equal(deadlines.size, 0);
});

test('slots are reused: cancelling one request does not disturb the others', () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  const all = Array.from({ length: 100 }, (_, i) => deadlines.add(i % 2 === 0 ? 30 : 10_000, () => fired.push(i)));
  for (const deadline of all.filter((_, i) => i % 4 === 0)) deadlines.cancel(deadline);
  // New requests take the freed slots.
  for (let i = 100; i < 125; i++) deadlines.add(30, () => fired.push(i));
  advance(40);
  const expected = [...Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 2 === 0 && i % 4 !== 0), ...Array.from({ length: 25 }, (_, i) => 100 + i)];
  assert.deepEqual([...fired].sort((a, b) => a - b), expected);
  assert.equal(deadlines.size, 50); // the odd ones, due in 10 s
  for (const deadline of all) deadlines.cancel(deadline);
  assert.equal(deadlines.size, 0);
});

test('the sweep timer stops when nothing is in flight, and a shorter timeout speeds it up', () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  deadlines.add(10_000, () => fired.push(10_000));
  // A 10 s timeout alone is swept every 250 ms: a 20 ms one added later
  // must not wait for that.
  deadlines.add(20, () => fired.push(20));
  advance(25);
  assert.deepEqual(fired, [20]);
  advance(10_000);
  assert.deepEqual(fired, [20, 10_000]);
  assert.equal(deadlines.size, 0);
});

test('a cancelled deadline does not keep its request out of a young-generation collection', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
  const oldSpace = () => getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;
  const deadlines = new Deadlines();
  // Let the table itself age into the old generation first, as in a server.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 200; i++) deadlines.cancel(deadlines.add(60_000, () => {}));
    gc({ type: 'major' });
  }
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  const before = oldSpace();
  // A server under load: 50 requests in flight, 20,000 finishing, each about
  // 1 KiB, with the sweep running every 50 ms of (mocked) time meanwhile.
  const inFlight: Deadline[] = [];
  for (let i = 0; i < 20_000; i++) {
    const request = { headers: new Array(120).fill(i) };
    inFlight.push(deadlines.add(500, () => void request));
    if (inFlight.length > 50) deadlines.cancel(inFlight.shift()!);
    if (i % 100 === 0) mock.timers.tick(50);
  }
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  const promoted = oldSpace() - before;
  for (const deadline of inFlight) deadlines.cancel(deadline);
  // 20,000 promoted requests would be about 20 MiB; the 50 in flight, 50 KiB.
  assert.ok(promoted < 2 * 1024 * 1024, `${Math.round(promoted / 1024)} KiB of finished requests were promoted to the old generation`);
});
