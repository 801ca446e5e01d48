import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { callApi, SCHEDULER_FILES, schedulerRoutes, sleep, until, value } from './fixture.js';

// ctx.scheduler on the real binary over SQLite: jobs in _scheduled_functions
// as Convex shapes them, scheduling as part of a mutation's transaction,
// Convex's checks and messages, cancel, and failures.

describe('ctx.scheduler (SQLite)', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES });
    gateway = await startGateway(dir, { env: { PORTICO_SCHEDULER_POLL_MS: '200' } });
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const runKeys = async () => ((await value(gateway.url, 'query', 'jobs:runs')) as { key: string }[]).map((r) => r.key);

  test('runAfter returns an id of _scheduled_functions; the job is pending, then runs and ends success', async () => {
    const before = Date.now();
    const [id] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 700, key: 'later' });
    const pending = await value(gateway.url, 'query', 'jobs:job', { id });
    assert.equal(pending._id, id);
    assert.equal(typeof pending._creationTime, 'number');
    assert.equal(pending.name, 'jobs.js:record');
    assert.deepEqual(pending.args, [{ key: 'later' }]);
    assert.deepEqual(pending.state, { kind: 'pending' });
    assert.ok(pending.scheduledTime >= before + 700 && pending.scheduledTime <= Date.now() + 700, `scheduledTime ${pending.scheduledTime}`);
    assert.equal(pending.completedTime, undefined);
    assert.ok(!(await runKeys()).includes('later'), 'not run before its time');

    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind === 'success', 10_000, 'the job to run');
    const done = await value(gateway.url, 'query', 'jobs:job', { id });
    assert.ok(done.completedTime >= pending.scheduledTime, 'ran no earlier than scheduled');
    assert.deepEqual((await runKeys()).filter((key) => key === 'later'), ['later'], 'ran once');
    const listed = (await value(gateway.url, 'query', 'jobs:jobs')) as { _id: string }[];
    assert.ok(listed.some((job) => job._id === id), 'db.system.query lists it');
  });

  test('a mutation that throws after scheduling schedules nothing', async () => {
    const countBefore = ((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length;
    const result = await callApi(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 0, key: 'rolled-back', count: 5, throwAfter: true });
    assert.equal(result.status, 'error');
    assert.match(result.errorMessage!, /thrown after scheduling/);
    await sleep(800);
    assert.equal(((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length, countBefore, 'no row in _scheduled_functions');
    assert.ok(!(await runKeys()).some((key) => key.startsWith('rolled-back')), 'nothing ran');
  });

  test('an action that throws after scheduling leaves its job scheduled, and it runs', async () => {
    const result = await callApi(gateway.url, 'action', 'jobs:fromAction', { key: 'from-action' });
    assert.equal(result.status, 'error');
    await until(async () => (await runKeys()).includes('from-action'), 10_000, 'the action-scheduled job');
  });

  test('an HTTP action schedules through ctx.scheduler', async () => {
    const response = await fetch(`${gateway.url}/schedule`, { method: 'POST', body: JSON.stringify({ key: 'from-http' }) });
    assert.equal(response.status, 200);
    const { id } = (await response.json()) as { id: string };
    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind === 'success', 10_000, 'the HTTP-scheduled job');
    assert.ok((await runKeys()).includes('from-http'));
  });

  test('queries have no ctx.scheduler', async () => {
    assert.equal(await value(gateway.url, 'query', 'jobs:hasScheduler'), false);
  });

  test('cancel: a pending job becomes canceled with a completedTime and never runs; a finished one is left as it is', async () => {
    const [id] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 1500, key: 'canceled' });
    await value(gateway.url, 'mutation', 'jobs:cancel', { id });
    const canceled = await value(gateway.url, 'query', 'jobs:job', { id });
    assert.deepEqual(canceled.state, { kind: 'canceled' });
    assert.equal(typeof canceled.completedTime, 'number');
    await sleep(2500);
    assert.ok(!(await runKeys()).includes('canceled'), 'a canceled job never runs');

    const [doneId] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 0, key: 'finished-first' });
    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id: doneId })).state.kind === 'success', 10_000, 'the job to finish');
    await value(gateway.url, 'mutation', 'jobs:cancel', { id: doneId });
    assert.deepEqual((await value(gateway.url, 'query', 'jobs:job', { id: doneId })).state, { kind: 'success' });

    const wrongTable = await callApi(gateway.url, 'mutation', 'jobs:cancel', { id: (await value(gateway.url, 'query', 'jobs:jobs')).length ? 'not-an-id' : '' });
    assert.equal(wrongTable.status, 'error');
    assert.match(wrongTable.errorMessage!, /Invalid scheduled function ID\. The ID must be an ID on the '_scheduled_functions' table\./);
  });

  test('functions scheduled by a running action after it was canceled are created canceled, and never run', async () => {
    const parent = await value(gateway.url, 'mutation', 'jobs:scheduleParent', { key: 'parent', ms: 1500 });
    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id: parent })).state.kind === 'inProgress', 10_000, 'the action to start');
    await value(gateway.url, 'mutation', 'jobs:cancel', { id: parent });
    await sleep(3000);
    assert.deepEqual((await value(gateway.url, 'query', 'jobs:job', { id: parent })).state, { kind: 'canceled' }, 'it stays canceled after it finishes');
    const children = ((await value(gateway.url, 'query', 'jobs:jobs')) as { args: { key: string }[]; state: { kind: string } }[]).filter((job) => /^parent:(grand)?child$/.test(job.args[0]!.key));
    assert.deepEqual(children.map((job) => job.state.kind), ['canceled', 'canceled'], 'from the action itself and from a mutation it ran');
    assert.deepEqual((await runKeys()).filter((key) => key.startsWith('parent')), ['parent:started']);
  });

  test("a scheduled mutation that throws ends failed with its error, and its writes are undone", async () => {
    const [id] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 0, key: 'fails', fn: 'jobs:failing' });
    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind === 'failed', 10_000, 'the job to fail');
    const failed = await value(gateway.url, 'query', 'jobs:job', { id });
    assert.match(failed.state.error, /boom: fails/);
    assert.equal(typeof failed.completedTime, 'number');
    assert.ok(!(await runKeys()).includes('fails'), 'its insert was rolled back');
  });

  test('a scheduled query ends failed: only mutations and actions run', async () => {
    const id = await value(gateway.url, 'mutation', 'jobs:scheduleRaw', { delayMs: 0, fn: 'jobs:aQuery', args: {} });
    await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id })).state.kind === 'failed', 10_000, 'the job to fail');
    assert.match((await value(gateway.url, 'query', 'jobs:job', { id })).state.error, /Unsupported function type/);
  });

  test("Convex's checks and messages", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ delayMs: -1, fn: 'jobs:record', args: { key: 'x' } }, /`delayMs` must be non-negative/],
      [{ delayMs: 'soon', fn: 'jobs:record', args: { key: 'x' } }, /`delayMs` must be a number/],
      [{ delayMs: 0, fn: 'nowhere:record', args: { key: 'x' } }, /Attempted to schedule function at nonexistent path: nowhere/],
      [{ delayMs: 0, fn: 'jobs:missing', args: { key: 'x' } }, /no exported function missing found in the file: jobs\. Did you forget to export it\?/],
      [{ delayMs: 0, fn: 'jobs:record', args: [1] }, /The arguments to a Convex function must be an object/],
    ];
    for (const [args, message] of cases) {
      const result = await callApi(gateway.url, 'mutation', 'jobs:scheduleRaw', args);
      assert.equal(result.status, 'error', JSON.stringify(args));
      assert.match(result.errorMessage!, message);
    }
    const future = await callApi(gateway.url, 'mutation', 'jobs:scheduleAt', { at: Date.now() + 6 * 366 * 24 * 3600_000, key: 'x' });
    assert.match(future.errorMessage!, /more than 5 years in the future/);
    const past = await callApi(gateway.url, 'mutation', 'jobs:scheduleAt', { at: Date.now() - 6 * 366 * 24 * 3600_000, key: 'x' });
    assert.match(past.errorMessage!, /more than 5 years in the past/);
    const notATime = await callApi(gateway.url, 'mutation', 'jobs:scheduleAt', { at: 'tomorrow', key: 'x' });
    assert.match(notATime.errorMessage!, /The invoke time must a Date or a timestamp/);
  });

  test('the arguments scheduled by one mutation are limited to 16 MiB in all', async () => {
    const countBefore = ((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length;
    assert.equal(await value(gateway.url, 'mutation', 'jobs:scheduleBig', { count: 15, size: 1024 * 1024 }), 15, '15 MiB is fine');
    const tooBig = await callApi(gateway.url, 'mutation', 'jobs:scheduleBig', { count: 17, size: 1024 * 1024 });
    assert.equal(tooBig.status, 'error');
    assert.match(tooBig.errorMessage!, /Too large total size of the arguments of scheduled functions from this mutation \(actual: \d+ bytes, limit: 16777216 bytes\)/);
    assert.equal(((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length, countBefore + 15, 'the failed mutation scheduled nothing');
  });

  test('1000 schedules in one mutation are fine; the 1001st fails the mutation and schedules nothing', async () => {
    const countBefore = ((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length;
    const tooMany = await callApi(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 3_600_000, key: 'many', count: 1001 });
    assert.equal(tooMany.status, 'error');
    assert.match(tooMany.errorMessage!, /Too many functions scheduled by this mutation \(limit: 1000\)/);
    assert.equal(((await value(gateway.url, 'query', 'jobs:jobs')) as unknown[]).length, countBefore);
    const ids = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 3_600_000, key: 'many', count: 1000 });
    assert.equal(new Set(ids).size, 1000);
    await gateway.waitForLog((line) => String(line.msg).includes('Many functions scheduled by this mutation (actual: 950, limit: 1000)'), 5000);
  });
});

describe('retention of finished jobs', () => {
  test('finished jobs are deleted once their retention has passed; pending ones stay', async () => {
    const dir = await makeProject({ 'routes.yaml': schedulerRoutes('./.data/db.sqlite'), ...SCHEDULER_FILES });
    const gateway = await startGateway(dir, { env: { PORTICO_SCHEDULER_POLL_MS: '200', PORTICO_SCHEDULER_RETENTION_MS: '1500' } });
    try {
      const [done] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 0, key: 'short-lived' });
      const [pending] = await value(gateway.url, 'mutation', 'jobs:schedule', { delayMs: 3_600_000, key: 'far-off' });
      await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id: done }))?.state.kind === 'success', 10_000, 'the job to run');
      await until(async () => (await value(gateway.url, 'query', 'jobs:job', { id: done })) === null, 15_000, 'the finished job to be deleted');
      assert.deepEqual((await value(gateway.url, 'query', 'jobs:job', { id: pending })).state, { kind: 'pending' });
    } finally {
      await gateway.stop();
      await removeProject(dir);
    }
  });
});
