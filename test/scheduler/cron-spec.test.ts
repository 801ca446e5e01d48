import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextCronTime, parseCron } from '../../src/scheduler/cron-spec.js';
import { cronJobs } from '../../src/scheduler/crons.js';
import { makeFunctionReference } from '../../src/functions/references.js';
import { planCrons } from '../../src/scheduler/cron-runner.js';

// Cron expressions (five fields, UTC) and cronJobs() with Convex's checks.

const next = (expression: string, after: string) => new Date(nextCronTime(parseCron(expression), Date.parse(after))!).toISOString();
const ref = makeFunctionReference('jobs:record');

describe('five-field cron expressions', () => {
  test('next times in UTC', () => {
    assert.equal(next('0 3 * * *', '2026-01-01T05:00:00Z'), '2026-01-02T03:00:00.000Z');
    assert.equal(next('*/15 * * * *', '2026-01-01T05:07:30Z'), '2026-01-01T05:15:00.000Z');
    assert.equal(next('30 9 * * 1', '2026-01-01T00:00:00Z'), '2026-01-05T09:30:00.000Z'); // a Monday
    assert.equal(next('0 0 * * 7', '2026-01-01T00:00:00Z'), '2026-01-04T00:00:00.000Z'); // 7 is Sunday too
    assert.equal(next('0 12 31 * *', '2026-02-01T00:00:00Z'), '2026-03-31T12:00:00.000Z'); // February has no 31st
    assert.equal(next('0 0 1 jan *', '2026-06-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
    assert.equal(next('0 8 15 * mon', '2026-01-02T00:00:00Z'), '2026-01-05T08:00:00.000Z'); // either day field matches
    assert.equal(next('5 * * * *', '2026-01-01T10:05:00Z'), '2026-01-01T11:05:00.000Z'); // strictly after
  });

  test('bad expressions say what is wrong', () => {
    assert.throws(() => parseCron('not a cron'), /needs five fields/);
    assert.throws(() => parseCron('61 * * * *'), /minute "61" is out of range/);
    assert.throws(() => parseCron('0 0 30 2 *'), /will never match any time/);
    assert.throws(() => parseCron('*/0 * * * *'), /invalid step/);
  });
});

describe('cronJobs()', () => {
  test("export() gives Convex's JSON: name, [args], schedule", () => {
    const crons = cronJobs();
    crons.interval('tick', { minutes: 5 }, ref, { key: 'a' });
    crons.daily('digest', { hourUTC: 8, minuteUTC: 30 }, ref);
    crons.weekly('weekly', { dayOfWeek: 'tuesday', hourUTC: 1, minuteUTC: 0 }, ref);
    crons.monthly('monthly', { day: 31, hourUTC: 0, minuteUTC: 0 }, ref);
    crons.cron('raw', '0 * * * *', 'jobs:record');
    crons.hourly('hourly', ref);
    const exported = JSON.parse(crons.export());
    assert.deepEqual(exported.tick, { name: 'jobs:record', args: [{ key: 'a' }], schedule: { type: 'interval', seconds: 300 } });
    assert.deepEqual(exported.digest.schedule, { type: 'daily', hourUTC: 8, minuteUTC: 30 });
    assert.deepEqual(exported.raw.schedule, { type: 'cron', cron: '0 * * * *' });
    const minute = exported.hourly.schedule.minuteUTC;
    assert.ok(Number.isInteger(minute) && minute >= 0 && minute < 60, 'an omitted minute gets a stable offset');
  });

  test("Convex's messages", () => {
    const crons = cronJobs();
    assert.throws(() => crons.interval('x', { minutes: 5, seconds: 1 }, ref), /^Error: Must specify one of seconds, minutes, or hours$/);
    assert.throws(() => crons.interval('x', {}, ref), /Must specify one of seconds, minutes, or hours/);
    assert.throws(() => crons.interval('x', { seconds: 1.5 }, ref), /Interval must be an integer greater than 0/);
    assert.throws(() => crons.daily('x', { hourUTC: 24 }, ref), /Hour of day must be an integer from 0 to 23/);
    assert.throws(() => crons.hourly('x', { minuteUTC: 60 }, ref), /Minute of hour must be an integer from 0 to 59/);
    assert.throws(() => crons.monthly('x', { day: 0, hourUTC: 0 }, ref), /Day of month must be an integer from 1 to 31/);
    assert.throws(() => crons.weekly('x', { dayOfWeek: 'Tuesday' as 'tuesday', hourUTC: 0 }, ref), /Day of week must be a string like "monday"\./);
    crons.interval('once', { seconds: 1 }, ref);
    assert.throws(() => crons.interval('once', { seconds: 2 }, ref), /Cron identifier registered twice: once/);
    assert.throws(() => crons.interval('bad\nname', { seconds: 2 }, ref), /Invalid cron identifier/);
  });

  test('the project check: a missing default export, a query target, an expression that never matches', () => {
    const kinds: Record<string, string> = { 'jobs:record': 'mutation', 'jobs:aQuery': 'query' };
    const kindOf = (name: string) => kinds[name] ?? null;
    assert.deepEqual(planCrons(undefined, true, kindOf).problems, ['`functions/crons.ts` must have a default export of a Crons object.']);
    assert.deepEqual(planCrons({}, true, kindOf).problems, ['The default export of `functions/crons.ts` is not a Crons object.']);
    const crons = cronJobs();
    crons.cron('never', '0 0 30 2 *', ref);
    crons.interval('query', { seconds: 5 }, 'jobs:aQuery');
    crons.interval('missing', { seconds: 5 }, 'jobs:nothing');
    crons.interval('fine', { seconds: 5 }, ref);
    const planned = planCrons(crons, true, kindOf);
    assert.deepEqual(planned.crons.map((cron) => cron.cronName), ['fine']);
    assert.equal(planned.problems.length, 3);
    assert.match(planned.problems.join('\n'), /"never": "0 0 30 2 \*" will never match any time/);
    assert.match(planned.problems.join('\n'), /"query": jobs:aQuery is a query/);
  });
});
