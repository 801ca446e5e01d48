import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway } from '../helpers/gateway.js';

// `logLines` on the function API: Convex returns the functions' console
// output to callers only while logs are not redacted, so not in production
// (docs/convex-compatibility.md, function API). api.logLines chooses explicitly. The
// gateway's own log has the lines in every case.

const files = {
  'functions/chatty.ts': `
import { query, mutation } from 'portico';
export const talk = query({ args: {}, handler: async () => { console.log('secret-ish detail', { user: 42 }); return 'done'; } });
export const fail = mutation({ args: {}, handler: async () => { console.warn('about to fail'); throw new Error('nope'); } });
`,
};

async function call(url: string, kind: 'query' | 'mutation', path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, args: {}, format: 'json' }),
  });
  assert.equal(response.status, 200);
  return response.json();
}

const cases = [
  { name: 'outside production, by default', nodeEnv: 'development', setting: undefined, expected: true },
  { name: 'in production, by default', nodeEnv: 'production', setting: undefined, expected: false },
  { name: 'in production with api.logLines: true', nodeEnv: 'production', setting: true, expected: true },
  { name: 'outside production with api.logLines: false', nodeEnv: 'development', setting: false, expected: false },
] as const;

describe('logLines on the function API', () => {
  for (const { name, nodeEnv, setting, expected } of cases) {
    test(`${name}: ${expected ? 'returned' : 'not returned'}, and always in the log`, async () => {
      const extra = setting === undefined ? '' : `api: { logLines: ${setting} }`;
      const dir = await makeProject({ 'routes.yaml': routesYaml('  []', extra).replace('routes:\n  []', 'routes: []'), ...files });
      const gateway = await startGateway(dir, { env: { NODE_ENV: nodeEnv } });
      try {
        const success = await call(gateway.url, 'query', 'chatty:talk');
        assert.equal(success.value, 'done');
        const failure = await call(gateway.url, 'mutation', 'chatty:fail');
        assert.equal(failure.status, 'error');
        if (expected) {
          assert.deepEqual(success.logLines, ["[LOG] 'secret-ish detail' { user: 42 }"]);
          assert.deepEqual(failure.logLines, ["[WARN] 'about to fail'"]);
        } else {
          assert.ok(!('logLines' in success), JSON.stringify(success));
          assert.ok(!('logLines' in failure), JSON.stringify(failure));
        }
        await gateway.waitForLog((line) => line.msg === 'secret-ish detail { user: 42 }' || String(line.msg).includes('secret-ish detail'));
      } finally {
        await gateway.stop();
        await removeProject(dir);
      }
    });
  }
});

test("concurrent calls each get their own logLines, never another call's (SQLite runs them in shared batches)", async () => {
  const dir = await makeProject({
    'routes.yaml': routesYaml('  []').replace('routes:\n  []', 'routes: []'),
    'functions/echo.ts': `
import { mutation, query, v } from 'portico';
export const read = query({ args: { n: v.number() }, handler: async (_ctx, { n }) => { console.log('read', n); return n; } });
export const write = mutation({ args: { n: v.number() }, handler: async (ctx, { n }) => { console.log('write', n); await ctx.db.insert('notes', { n }); return n; } });
`,
  });
  const gateway = await startGateway(dir, { env: { NODE_ENV: 'development' } });
  try {
    const run = async (kind: 'query' | 'mutation', path: string, n: number) => {
      const response = await fetch(`${gateway.url}/api/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path, args: { n }, format: 'json' }) });
      return (await response.json()) as { value: number; logLines: string[] };
    };
    for (let round = 0; round < 3; round++) {
      const calls = Array.from({ length: 40 }, (_, n) => (n % 2 === 0 ? run('query', 'echo:read', n) : run('mutation', 'echo:write', n)));
      const answers = await Promise.all(calls);
      answers.forEach((answer, n) => {
        assert.equal(answer.value, n);
        assert.deepEqual(answer.logLines, [`[LOG] '${n % 2 === 0 ? 'read' : 'write'}' ${n}`], `call ${n}`);
      });
    }
  } finally {
    await gateway.stop();
    await removeProject(dir);
  }
});
