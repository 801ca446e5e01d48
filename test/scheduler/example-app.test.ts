import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli, startGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, ROOT } from '../helpers/project.js';
import { value } from './fixture.js';

// The example app schedules a welcome a minute after an author's first
// message (and only the first), and has a daily cron.

test("the example app schedules one welcome per author, a minute later, and lists its daily cron", async () => {
  const files: Record<string, string> = { 'routes.yaml': await readFile(path.join(ROOT, 'routes.yaml'), 'utf8') };
  for (const name of ['messages.ts', 'schema.ts', 'sendImage.ts', 'users.ts', 'demoAuth.ts', 'crons.ts']) files[`functions/${name}`] = await readFile(path.join(ROOT, 'functions', name), 'utf8');
  files['functions/inspect.ts'] = `import { query } from 'portico';\nexport const jobs = query(async (ctx) => ctx.db.system.query('_scheduled_functions').collect());\n`;
  const dir = await makeProject(files);
  try {
    const crons = await runCli(['crons', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.equal(crons.code, 0, crons.stderr);
    assert.match(crons.stdout, /daily message count\s+daily "0 6 \* \* \*" UTC\s+messages:dailyCount\s+\d{4}-\d\d-\d\dT06:00:00\.000Z/);

    const gateway = await startGateway(dir, { timeoutMs: 60_000 });
    try {
      const before = Date.now();
      for (const body of ['first', 'second']) {
        const response = await fetch(`${gateway.url}/postMessage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ author: 'ada', body }) });
        assert.equal(response.status, 200);
      }
      const jobs = (await value(gateway.url, 'query', 'inspect:jobs')) as { name: string; args: unknown[]; scheduledTime: number; state: { kind: string } }[];
      assert.equal(jobs.length, 1, 'one welcome, for the first message only');
      assert.equal(jobs[0]!.name, 'messages.js:welcome');
      assert.deepEqual(jobs[0]!.args, [{ author: 'ada' }]);
      assert.deepEqual(jobs[0]!.state, { kind: 'pending' });
      assert.ok(jobs[0]!.scheduledTime >= before + 60_000 && jobs[0]!.scheduledTime <= Date.now() + 60_000);
    } finally {
      await gateway.stop();
    }
  } finally {
    await removeProject(dir);
  }
});
