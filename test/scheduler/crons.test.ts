import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { cronsFile, SCHEDULER_FILES, schedulerRoutes, sleep, until, value } from './fixture.js';

// Cron jobs on the real binary: listed by `portico crons`, run on their
// period, run once (not once per missed period) after downtime, follow the
// code on reload, and run once per period across two PostgreSQL instances.

const times = async (url: string, key: string) => ((await value(url, 'query', 'jobs:runTimes', { key })) as { at: number; by: string | null }[]).map((r) => r).sort((a, b) => a.at - b.at);

describe('cron jobs', () => {
  test('portico crons lists the jobs; a bad crons.ts is an error with Convex\'s message', async () => {
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES, 'functions/crons.ts': cronsFile([{ name: 'tick', seconds: 120, key: 'tick' }]) });
    try {
      const listed = await runCli(['crons', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^NAME\s+SCHEDULE\s+FUNCTION\s+NEXT RUN \(UTC\)/);
      assert.match(listed.stdout, /tick\s+every 2m\s+jobs:record\s+\d{4}-\d\d-\d\dT/);
      await writeFile(path.join(dir, 'functions/crons.ts'), `import { cronJobs } from 'portico';\nexport const crons = cronJobs();\n`);
      const bad = await runCli(['crons', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /`functions\/crons.ts` must have a default export of a Crons object\./);
    } finally {
      await removeProject(dir);
    }
  });

  test('after a kill -9 and downtime, an overdue job runs once, the missed periods are skipped and logged', async () => {
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES, 'functions/crons.ts': cronsFile([{ name: 'tick', seconds: 2, key: 'tick' }]) });
    try {
      const first = await startGateway(dir);
      // A new interval job runs at once, then every 2 s.
      await until(async () => (await times(first.url, 'tick')).length >= 2, 20_000, 'two ticks');
      const beforeKill = (await times(first.url, 'tick')).length;
      const gaps = (await times(first.url, 'tick')).map((r, i, all) => (i === 0 ? Infinity : r.at - all[i - 1]!.at));
      assert.ok(gaps.every((gap) => gap > 1500), `runs are a period apart: ${gaps.join(', ')}`);
      first.child.kill('SIGKILL');
      await first.exited;
      await sleep(9000);

      const restarted = Date.now();
      const second = await startGateway(dir);
      try {
        const skip = await second.waitForLog((line) => line.event === 'cron-skipped', 20_000);
        assert.equal(skip.cron, 'tick');
        assert.ok((skip.skipped as number) >= 3, `skipped ${skip.skipped}`);
        assert.match(skip.msg, /^Skipping \d+ run\(s\) of job tick because multiple scheduled runs are in the past$/);
        await sleep(1000);
        const after = (await times(second.url, 'tick')).filter((r) => r.at >= restarted - 1000);
        // Caught up period by period, this would be five or more runs at once.
        assert.ok(after.length >= 1 && after.length <= 2, `${after.length} runs just after the restart`);
        assert.ok((await times(second.url, 'tick')).length >= beforeKill + 1);
      } finally {
        await second.stop();
      }
    } finally {
      await removeProject(dir);
    }
  });

  test('jobs follow the code on reload: a new one starts, a removed one stops', async () => {
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES, 'functions/crons.ts': cronsFile([{ name: 'old', seconds: 1, key: 'old' }]) });
    const gateway = await startGateway(dir, { command: 'dev' });
    try {
      await until(async () => (await times(gateway.url, 'old')).length >= 1, 20_000, 'the first job to run');
      await writeFile(path.join(dir, 'functions/crons.ts'), cronsFile([{ name: 'new', seconds: 1, key: 'new' }]));
      await gateway.waitForLog((line) => line.event === 'reloaded', 30_000);
      await until(async () => (await times(gateway.url, 'new')).length >= 2, 20_000, 'the new job to run');
      const oldCount = (await times(gateway.url, 'old')).length;
      await sleep(2500);
      assert.equal((await times(gateway.url, 'old')).length, oldCount, 'the removed job no longer runs');
    } finally {
      await gateway.stop();
      await removeProject(dir);
    }
  });

  test('two PostgreSQL instances run a job once per period between them', async (t) => {
    const url = await freshDatabase(t);
    if (!url) return;
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes(url), ...SCHEDULER_FILES, 'functions/crons.ts': cronsFile([{ name: 'shared', seconds: 1, key: 'shared' }]) });
    const gateways: RunningGateway[] = [];
    try {
      for (const name of ['a', 'b']) gateways.push(await startGateway(dir, { env: { INSTANCE: name, PORTICO_SCHEDULER_POLL_MS: '100' } }));
      const start = Date.now();
      await sleep(8000);
      const runs = (await times(gateways[0]!.url, 'shared')).filter((r) => r.at >= start);
      const gaps = runs.slice(1).map((r, i) => Math.round(r.at - runs[i]!.at));
      assert.ok(runs.length >= 5 && runs.length <= 9, `${runs.length} runs in 8 s`);
      assert.ok(gaps.every((gap) => gap >= 500), `no period ran twice: gaps ${gaps.join(', ')}`);
      t.diagnostic(`runs by a: ${runs.filter((r) => r.by === 'a').length}, by b: ${runs.filter((r) => r.by === 'b').length}`);
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
      await removeProject(dir);
    }
  });
});
