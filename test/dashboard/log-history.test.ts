import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogHistory } from '../../src/dashboard/log-history.js';

// The dashboard's log history keeps the last lines as bytes in a ring. Lines
// of every size (multi-byte text, lines too long for the ring) go in, in a
// seeded random order; after each one, what it gives back must be exactly
// the newest lines, in order, whole, and never more than it may hold.

function randomLine(random: () => number, n: number): string {
  const kind = random();
  const size = kind < 0.05 ? 400 + Math.floor(random() * 400) : 1 + Math.floor(random() * 120);
  const alphabet = kind < 0.5 ? 'abcdefghij "\\{}:,' : 'aé€𝄞ж中 ';
  let text = '';
  while (text.length < size) text += [...alphabet][Math.floor(random() * [...alphabet].length)];
  return `{"n":${n},"text":${JSON.stringify(text)}}\n`;
}

test('the ring gives back exactly the newest lines, whole and in order', () => {
  const seed = Number(process.env.PORTICO_HISTORY_SEED ?? Date.now() % 100_000);
  let state = seed;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const MAX_LINES = 40;
  const history = new LogHistory(MAX_LINES, 2_000);
  const all: string[] = [];
  let heldMostly = 0;
  for (let n = 0; n < 3_000; n++) {
    const line = randomLine(random, n);
    history.add(line);
    all.push(line.trimEnd());
    const part = history.since(0);
    assert.equal(part.last, all.length, `seed ${seed}`);
    assert.ok(part.lines.length >= 1 && part.lines.length <= MAX_LINES, `seed ${seed}: ${part.lines.length} lines held`);
    assert.deepEqual(part.lines, all.slice(all.length - part.lines.length), `seed ${seed}, after line ${n}`);
    if (part.lines.length >= 5) heldMostly += 1;
    // A cursor past some lines gets only the ones after it.
    const cursor = all.length - 2;
    assert.deepEqual(history.since(cursor).lines, all.slice(cursor).slice(-part.lines.length), `seed ${seed}`);
  }
  // Not an empty window passing every check: the ring held several lines most of the time.
  assert.ok(heldMostly > 2_500, `seed ${seed}: ${heldMostly}`);
});

test('the cap on lines holds when lines are short', () => {
  const history = new LogHistory(10, 1_000_000);
  for (let n = 0; n < 25; n++) history.add(`{"n":${n}}\n`);
  assert.deepEqual(history.since(0).lines, Array.from({ length: 10 }, (_, i) => `{"n":${i + 15}}`));
  assert.deepEqual(history.since(20).lines, Array.from({ length: 5 }, (_, i) => `{"n":${i + 20}}`));
});

test('a line too long for the ring is held as long as the lines after it', () => {
  const history = new LogHistory(10, 1_000);
  const long = `{"text":"${'x'.repeat(600)}"}\n`;
  history.add(long);
  for (let n = 0; n < 3; n++) history.add(`{"n":${n}}\n`);
  assert.deepEqual(history.since(0).lines, [long.trimEnd(), '{"n":0}', '{"n":1}', '{"n":2}']);
  // Once the ring wraps over the short lines after it, it goes with them.
  for (let n = 3; n < 200; n++) history.add(`{"n":${n},"pad":"${'y'.repeat(40)}"}\n`);
  const held = history.since(0).lines;
  assert.ok(!held.includes(long.trimEnd()));
  assert.equal(held.at(-1), `{"n":199,"pad":"${'y'.repeat(40)}"}`);
});
