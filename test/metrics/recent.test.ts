import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartsOf, RecentStats } from '../../src/metrics/recent.js';

// The dashboard's last-hour charts: one point per minute, calls and errors
// counted, p50/p99 read from duration classes, processes summed.

const MINUTE = 60_000;

test('one point per minute of the last hour, with calls, errors and percentiles', () => {
  let now = 100 * MINUTE + 5_000;
  const stats = new RecentStats(() => now);
  for (let i = 0; i < 98; i++) stats.record('f', 1.5, false);
  stats.record('f', 300, true);
  stats.record('f', 3000, true);
  now += MINUTE;
  stats.record('f', 0.1, false);
  const chart = chartsOf([stats.snapshot()], now).f!;
  assert.equal(chart.length, 60);
  const [previous, last] = chart.slice(-2);
  assert.deepEqual({ calls: previous!.calls, errors: previous!.errors, p50: previous!.p50, p99: previous!.p99 }, { calls: 100, errors: 2, p50: 2, p99: 512 });
  assert.deepEqual({ calls: last!.calls, p50: last!.p50 }, { calls: 1, p50: 0.25 });
  assert.equal(chart[0]!.calls, 0);
  assert.equal(chart[0]!.p50, null);
});

test('minutes older than an hour drop out, and processes add up', () => {
  let now = 10 * MINUTE;
  const one = new RecentStats(() => now);
  const two = new RecentStats(() => now);
  one.record('g', 5, false);
  two.record('g', 5, true);
  assert.deepEqual(chartsOf([one.snapshot(), two.snapshot()], now).g!.at(-1)!.calls, 2);
  now += 61 * MINUTE;
  assert.equal(chartsOf([one.snapshot()], now).g!.reduce((sum, p) => sum + p.calls, 0), 0);
});
