import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { makeProject, removeProject } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';

// Small PostgreSQL pools under bursts, over HTTP against the real binary.
//
// Regression: with `backend.pool: 2`, 24 concurrent mutations through an
// HTTP action, each inserting into one of six tables that did not exist
// yet, all timed out, and so did every later request: each transaction held
// a pooled connection and waited on the pool for a second one (catalog
// lookups, table creation); two connections stayed `idle in transaction`
// for good and SIGTERM waited out its whole timeout.

const functions = {
  'functions/burst.ts': `
import { httpAction, mutation, query, v } from 'portico';

export const add = mutation({
  args: { table: v.string(), n: v.number() },
  handler: async (ctx, { table, n }) => {
    // Read first (the table may not exist yet), then write: both catalog paths.
    const before = await ctx.db.query(table).first();
    const id = await ctx.db.insert(table, { n });
    const again = await ctx.db.get(id);
    return { id, sawTable: before !== null, readBack: again?.n };
  },
});
export const count = query({ args: { table: v.string() }, handler: async (ctx, { table }) => (await ctx.db.query(table).collect()).length });
/** Holds a transaction (and its pooled connection) for \`ms\`. */
export const hold = mutation({
  args: { ms: v.number() },
  handler: async (ctx, { ms }) => {
    await ctx.db.insert('held', { at: Date.now() });
    await new Promise((resolve) => setTimeout(resolve, ms));
  },
});

export const fileUrl = query({ args: { id: v.string() }, handler: (ctx, { id }) => ctx.storage.getUrl(id) });
export const upload = httpAction(async (ctx, request) => Response.json({ id: await ctx.storage.store(await request.blob()) }));

export const write = httpAction(async (ctx, request) => {
  const { table, n } = await request.json();
  return Response.json(await ctx.runMutation('burst:add', { table, n }));
});
/** ctx.runQuery's error, as the action sees it. */
export const tryCount = httpAction(async (ctx) => {
  try {
    return Response.json({ count: await ctx.runQuery('burst:count', { table: 'held' }) });
  } catch (error) {
    return Response.json({ thrown: String(error.message) }, { status: 503 });
  }
});
`,
};

function yaml(url: string, pool: number): string {
  return `version: 1
functions: ./functions
backend: { kind: local, database: "${url}", pool: ${pool} }
routes:
  - { path: /write, method: POST, handler: "burst:write" }
  - { path: /try-count, method: GET, handler: "burst:tryCount" }
  - { path: /upload, method: POST, handler: "burst:upload" }
`;
}

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null && gateway.child.signalCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});

async function startOn(t: TestContext, pool: number, urlSuffix = ''): Promise<{ gateway: RunningGateway; url: string } | null> {
  const url = await freshDatabase(t);
  if (url === null) return null;
  const dir = await makeProject({ 'routes.yaml': yaml(url + urlSuffix, pool), ...functions });
  dirs.push(dir);
  const gateway = await startGateway(dir, { timeoutMs: 60_000 });
  gateways.push(gateway);
  return { gateway, url };
}

async function api(base: string, kind: 'query' | 'mutation', path: string, args: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/api/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, args, format: 'json' }),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, body: await response.json() };
}

/** Connections of the gateway's database left inside a transaction with nothing running. */
async function idleInTransaction(url: string): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
      [database],
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('bursts of first inserts into new tables on small PostgreSQL pools', () => {
  for (const pool of [1, 2, 10]) {
    test(`pool of ${pool}: 24 concurrent mutations into 6 new tables all complete, nothing is left idle in transaction, SIGTERM exits promptly`, async (t) => {
      const started = await startOn(t, pool);
      if (!started) return;
      const { gateway, url } = started;

      const TABLES = 6;
      const REQUESTS = 24;
      const burstStarted = Date.now();
      const answers = await Promise.all(
        Array.from({ length: REQUESTS }, async (_, i) => {
          const response = await fetch(`${gateway.url}/write`, {
            method: 'POST',
            body: JSON.stringify({ table: `burst_${i % TABLES}`, n: i }),
            signal: AbortSignal.timeout(20_000),
          });
          return { status: response.status, body: await response.json() };
        }),
      );
      assert.deepEqual(answers.filter((answer) => answer.status !== 200), [], 'every mutation succeeded');
      t.diagnostic(`burst of ${REQUESTS} first inserts into ${TABLES} new tables on a pool of ${pool}: ${Date.now() - burstStarted} ms`);
      answers.forEach((answer, i) => assert.equal(answer.body.readBack, i, 'each mutation read back its own document'));

      // Every document was written, and the server answers normally afterwards.
      for (let table = 0; table < TABLES; table++) {
        const { status, body } = await api(gateway.url, 'query', 'burst:count', { table: `burst_${table}` });
        assert.equal(status, 200);
        assert.deepEqual(body, { status: 'success', value: REQUESTS / TABLES });
      }
      assert.equal(await idleInTransaction(url), 0, 'no connection is left idle in transaction');

      const stopping = Date.now();
      assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
      const stopMs = Date.now() - stopping;
      assert.ok(stopMs < 5_000, `SIGTERM exited after ${stopMs} ms`);
      t.diagnostic(`SIGTERM to exit: ${stopMs} ms`);
    });
  }

  test('pool of 1: a query that reads file metadata (ctx.storage.getUrl) answers through its own connection', async (t) => {
    const started = await startOn(t, 1);
    if (!started) return;
    const { gateway } = started;
    const { id } = await (await fetch(`${gateway.url}/upload`, { method: 'POST', body: 'hello', signal: AbortSignal.timeout(10_000) })).json();
    const asked = Date.now();
    const { status, body } = await api(gateway.url, 'query', 'burst:fileUrl', { id });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.value, `${gateway.url}/api/storage/${id}`);
    assert.ok(Date.now() - asked < 2_000, 'answered without waiting on the pool');
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('a caller that waits longer than connect_timeout for a pooled connection gets a 503 on /api and a thrown error in ctx.runQuery; the pool recovers', async (t) => {
    // One connection, waited for at most one second.
    const started = await startOn(t, 1, '?connect_timeout=1');
    if (!started) return;
    const { gateway, url } = started;

    const holding = api(gateway.url, 'mutation', 'burst:hold', { ms: 4_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const asked = Date.now();
    const refused = await api(gateway.url, 'query', 'burst:count', { table: 'held' });
    const waited = Date.now() - asked;
    assert.equal(refused.status, 503);
    assert.equal(refused.body.code, 'DatabaseUnavailable');
    assert.match(refused.body.message, /No PostgreSQL connection became free within 1000 ms \(backend\.pool: 1\)/);
    assert.ok(waited >= 900 && waited < 3_000, `refused after ${waited} ms`);

    const fromAction = await fetch(`${gateway.url}/try-count`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(fromAction.status, 503);
    assert.match((await fromAction.json()).thrown, /No PostgreSQL connection became free/);

    // The held transaction still commits, then everything is served again.
    assert.deepEqual((await holding).body, { status: 'success', value: null });
    assert.deepEqual((await api(gateway.url, 'query', 'burst:count', { table: 'held' })).body, { status: 'success', value: 1 });
    assert.equal(await idleInTransaction(url), 0);
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });
});
