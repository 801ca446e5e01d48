import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { SCHEDULER_FILES, schedulerRoutes, sleep, until, value } from './fixture.js';

// Jobs outlive the process: scheduled, then the gateway killed with SIGKILL
// before they are due; started again, they run (late), each exactly once.
// An action interrupted by the kill ends failed and is never run again.

describe('scheduled jobs across SIGKILL (SQLite)', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES });
  });
  after(async () => {
    await removeProject(dir);
  });

  test('pending mutations scheduled before a kill -9 run once each after the restart', async () => {
    const env = { PORTICO_SCHEDULER_POLL_MS: '200' };
    const first = await startGateway(dir, { env });
    const ids: string[] = await value(first.url, 'mutation', 'jobs:schedule', { delayMs: 1500, key: 'survivor', count: 50 });
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    // Down past the jobs' due time: they run late, once the gateway is back.
    await sleep(2500);
    const second = await startGateway(dir, { env });
    try {
      await until(async () => {
        const jobs = (await value(second.url, 'query', 'jobs:jobs')) as { _id: string; state: { kind: string } }[];
        return ids.every((id) => jobs.find((job) => job._id === id)?.state.kind === 'success');
      }, 20_000, 'the 50 jobs to run');
      await sleep(1000);
      const keys = ((await value(second.url, 'query', 'jobs:runs')) as { key: string }[]).map((r) => r.key).filter((key) => key.startsWith('survivor:'));
      assert.equal(keys.length, 50, 'each job ran exactly once');
      assert.equal(new Set(keys).size, 50);
    } finally {
      await second.stop();
    }
  });

  test('an action running at the kill ends failed ("Transient error while executing action") and is not run again', async () => {
    const env = { PORTICO_SCHEDULER_POLL_MS: '200', PORTICO_SCHEDULER_LEASE_MS: '1500' };
    const first = await startGateway(dir, { env });
    const id: string = await value(first.url, 'mutation', 'jobs:scheduleSlow', { key: 'interrupted', ms: 60_000 });
    await until(async () => (await value(first.url, 'query', 'jobs:job', { id })).state.kind === 'inProgress', 10_000, 'the action to start');
    const keys = async (url: string) => ((await value(url, 'query', 'jobs:runs')) as { key: string }[]).map((r) => r.key).filter((key) => key.startsWith('interrupted'));
    assert.deepEqual(await keys(first.url), ['interrupted:started']);
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startGateway(dir, { env });
    try {
      await until(async () => (await value(second.url, 'query', 'jobs:job', { id })).state.kind === 'failed', 15_000, 'the interrupted action to be marked failed');
      const job = await value(second.url, 'query', 'jobs:job', { id });
      assert.deepEqual(job.state, { kind: 'failed', error: 'Transient error while executing action' });
      assert.equal(typeof job.completedTime, 'number');
      await sleep(2000);
      assert.deepEqual(await keys(second.url), ['interrupted:started'], 'the action never ran a second time');
    } finally {
      await second.stop();
    }
  });

  test('a running action passes through inProgress and ends success; a clean stop does not fail it', async () => {
    const env = { PORTICO_SCHEDULER_POLL_MS: '200', PORTICO_SCHEDULER_LEASE_MS: '600' };
    const gateway = await startGateway(dir, { env });
    try {
      // Longer than the lease: the running instance renews it, so the action is not failed under it.
      const id: string = await value(gateway.url, 'mutation', 'jobs:scheduleSlow', { key: 'renewed', ms: 2500 });
      await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind === 'inProgress', 10_000, 'inProgress');
      await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind !== 'inProgress', 15_000, 'the action to finish');
      assert.deepEqual((await value(gateway.url, 'query', 'jobs:job', { id })).state, { kind: 'success' });
    } finally {
      await gateway.stop();
    }
  });
});
