import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deadlines, type Deadline } from '../../src/gateway/deadlines.js';

// The route timeouts of every request in flight share one sweep timer. These
// tests pin down what the gateway relies on: a deadline fires once and late
// by at most a tick, a cancelled one never fires, and a finished request is
// not kept alive by the table (it was, once, and every request then survived
// into the old generation: a tenth of a mutation's throughput).

test('a deadline fires once after its time; a cancelled one never does', async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  const started = Date.now();
  deadlines.add(40, () => fired.push(`late after ${Date.now() - started} ms`));
  const cancelled = deadlines.add(40, () => fired.push('cancelled'));
  deadlines.cancel(cancelled);
  deadlines.cancel(cancelled); // twice is harmless
  assert.equal(deadlines.size, 1);
  await sleep(120);
  assert.equal(fired.length, 1, fired.join(', '));
  assert.match(fired[0]!, /^late after \d+ ms$/);
  const after = Number(/\d+/.exec(fired[0]!)![0]);
  assert.ok(after >= 40 && after < 100, `fired after ${after} ms`);
  assert.equal(deadlines.size, 0);
});

test('slots are reused: cancelling one request does not disturb the others', async () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  const all = Array.from({ length: 100 }, (_, i) => deadlines.add(i % 2 === 0 ? 30 : 10_000, () => fired.push(i)));
  for (const deadline of all.filter((_, i) => i % 4 === 0)) deadlines.cancel(deadline);
  // New requests take the freed slots.
  for (let i = 100; i < 125; i++) deadlines.add(30, () => fired.push(i));
  await sleep(100);
  const expected = [...Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 2 === 0 && i % 4 !== 0), ...Array.from({ length: 25 }, (_, i) => 100 + i)];
  assert.deepEqual([...fired].sort((a, b) => a - b), expected);
  assert.equal(deadlines.size, 50); // the odd ones, due in 10 s
  for (const deadline of all) deadlines.cancel(deadline);
  assert.equal(deadlines.size, 0);
});

test('a cancelled deadline does not keep its request out of a young-generation collection', async () => {
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
  // A server under load: 50 requests in flight, thousands finishing, each about 1 KiB.
  const inFlight: Deadline[] = [];
  // The sweep timer runs meanwhile (a 500 ms timeout sweeps every 50 ms).
  const until = Date.now() + 300;
  for (let i = 0; Date.now() < until; i++) {
    const request = { headers: new Array(120).fill(i) };
    inFlight.push(deadlines.add(500, () => void request));
    if (inFlight.length > 50) deadlines.cancel(inFlight.shift()!);
    if (i % 100 === 0) await sleep(1);
  }
  gc({ type: 'minor' });
  gc({ type: 'minor' });
  const promoted = oldSpace() - before;
  for (const deadline of inFlight) deadlines.cancel(deadline);
  assert.ok(promoted < 2 * 1024 * 1024, `${Math.round(promoted / 1024)} KiB of finished requests were promoted to the old generation`);
});
