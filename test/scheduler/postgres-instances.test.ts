import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { SCHEDULER_FILES, schedulerRoutes, until, value } from './fixture.js';

// Two gateways on one PostgreSQL database race for the same due jobs: each
// job runs on exactly one of them (a row lock taken with SKIP LOCKED), and
// both take part.

describe('scheduled jobs on two instances sharing PostgreSQL', () => {
  test('a thousand mutations and two hundred actions each run exactly once, spread over both instances', async (t) => {
    const url = await freshDatabase(t);
    if (!url) return;
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes(url), ...SCHEDULER_FILES });
    const gateways: RunningGateway[] = [];
    try {
      for (const name of ['a', 'b']) gateways.push(await startGateway(dir, { env: { INSTANCE: name, PORTICO_SCHEDULER_POLL_MS: '100' } }));
      const [a, b] = gateways as [RunningGateway, RunningGateway];
      const started = Date.now();
      // Due together, a moment from now: both instances see all of them at once.
      await value(a.url, 'mutation', 'jobs:schedule', { delayMs: 1500, key: 'm', count: 500 });
      await value(b.url, 'mutation', 'jobs:schedule', { delayMs: 1500, key: 'm2', count: 500 });
      await value(a.url, 'mutation', 'jobs:scheduleActions', { delayMs: 1500, key: 'act', count: 200 });

      await until(async () => {
        const jobs = (await value(a.url, 'query', 'jobs:jobs')) as { state: { kind: string } }[];
        return jobs.length === 1200 && jobs.every((job) => job.state.kind === 'success');
      }, 120_000, 'all 1200 jobs to succeed');
      const elapsed = Date.now() - started;

      const runs = (await value(b.url, 'query', 'jobs:runs')) as { key: string; by: string | null }[];
      const mutationRuns = runs.filter((r) => r.key.startsWith('m'));
      assert.equal(mutationRuns.length, 1000, 'each scheduled mutation ran once');
      assert.equal(new Set(mutationRuns.map((r) => r.key)).size, 1000);
      const actionStarts = runs.filter((r) => r.key.startsWith('act:') && r.key.endsWith(':started'));
      assert.equal(actionStarts.length, 200, 'each scheduled action ran once');
      assert.equal(new Set(actionStarts.map((r) => r.key)).size, 200);

      const byA = mutationRuns.filter((r) => r.by === 'a').length;
      const byB = mutationRuns.filter((r) => r.by === 'b').length;
      assert.equal(byA + byB, 1000);
      assert.ok(byA > 0 && byB > 0, `both instances ran jobs (a: ${byA}, b: ${byB})`);
      const logged = gateways.map((g) => g.logs().filter((line) => line.event === 'scheduled-job').length);
      assert.equal(logged[0]! + logged[1]!, 1200, `one run logged per job (a: ${logged[0]}, b: ${logged[1]})`);
      t.diagnostic(`1200 jobs in ${elapsed} ms from scheduling; mutations a: ${byA}, b: ${byB}; runs logged a: ${logged[0]}, b: ${logged[1]}`);
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
      await removeProject(dir);
    }
  });
});
