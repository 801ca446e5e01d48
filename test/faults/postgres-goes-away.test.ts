import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { makeProject, removeProject } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { privatePostgres } from '../helpers/postgres.js';

// PostgreSQL goes away under load: a private server (so other tests keep
// theirs) is stopped and started again while mutations keep coming, then
// every session of the gateway is killed with pg_terminate_backend.
//  - requests during the outage fail fast with 503 DatabaseUnavailable;
//  - /_portico/health answers 503, status "degraded", while the server is
//    down (what a load balancer takes out of rotation), and 200 once back;
//  - the pool reconnects by itself: the same Portico process serves again;
//  - no acknowledged write is lost: every mutation answered "success" has
//    its document in the database afterwards.

const functions = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({ acked: defineTable({ n: v.number() }) });
`,
  'functions/load.ts': `
import { mutation, query, v } from 'portico';
export const add = mutation({ args: { n: v.number() }, handler: (ctx, { n }) => ctx.db.insert('acked', { n }) });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query('acked').collect()).length });
`,
};

/** Longest any request may take, outage or not: connect_timeout (2 s) plus slack. */
const BOUND_MS = 5_000;

interface Outcome {
  status: number;
  code?: string;
  ms: number;
  id?: string;
  error?: string;
}

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null && gateway.child.signalCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});

async function mutate(base: string, n: number): Promise<Outcome> {
  const started = Date.now();
  try {
    const response = await fetch(`${base}/api/mutation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'load:add', args: { n }, format: 'json' }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = await response.json();
    const ms = Date.now() - started;
    if (response.status === 200 && body.status === 'success') return { status: 200, ms, id: body.value };
    return { status: response.status, code: body.code ?? body.status, ms, error: body.message ?? body.errorMessage };
  } catch (error) {
    return { status: 0, ms: Date.now() - started, error: String(error) };
  }
}

async function health(base: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${base}/_portico/health`, { signal: AbortSignal.timeout(BOUND_MS) });
  return { status: response.status, body: await response.json() };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe().catch(() => null);
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Workers sending mutations until stopped; every outcome kept. */
function load(base: string, workers: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  let n = 0;
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      while (running) {
        const outcome = await mutate(base, n++);
        outcomes.push(outcome);
        // A refused request is retried after a pause, as a client would.
        if (outcome.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }),
  );
  return {
    outcomes,
    successes: () => outcomes.filter((outcome) => outcome.status === 200).length,
    async stop() {
      running = false;
      await done;
    },
  };
}

test('PostgreSQL restarted and its sessions killed under load: fast 503s, degraded health, reconnection, no acknowledged write lost', { timeout: 180_000 }, async (t) => {
  const server = await privatePostgres(t);
  if (!server) return;
  const dir = await makeProject({
    'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: "${server.url}?connect_timeout=2", pool: 4 }
routes: []
`,
    ...functions,
  });
  dirs.push(dir);
  const gateway = await startGateway(dir, { timeoutMs: 60_000 });
  gateways.push(gateway);
  const pid = (await health(gateway.url)).body.pid;
  assert.equal((await health(gateway.url)).status, 200);

  const traffic = load(gateway.url, 6);
  await waitFor('mutations under load', async () => (traffic.successes() >= 20 ? true : null), 20_000);

  // --- the server stops, then starts again -----------------------------------
  await server.stop();
  const degraded = await waitFor('health reporting the database down', async () => {
    const answer = await health(gateway.url);
    return answer.status === 503 ? answer : null;
  }, 10_000);
  assert.equal(degraded.body.status, 'degraded');
  assert.equal(degraded.body.database.status, 'unavailable');

  const during = await mutate(gateway.url, -1);
  assert.equal(during.status, 503, JSON.stringify(during));
  assert.equal(during.code, 'DatabaseUnavailable');
  assert.ok(during.ms < BOUND_MS, `a request during the outage was refused after ${during.ms} ms`);
  const query = await fetch(`${gateway.url}/api/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: 'load:count', args: {} }),
    signal: AbortSignal.timeout(BOUND_MS),
  });
  assert.equal(query.status, 503);
  assert.equal((await query.json()).code, 'DatabaseUnavailable');
  await new Promise((resolve) => setTimeout(resolve, 1_000));

  await server.start();
  const before = traffic.successes();
  await waitFor('health back to ok', async () => ((await health(gateway.url)).status === 200 ? true : null), 15_000);
  await waitFor('mutations succeeding again', async () => (traffic.successes() > before + 20 ? true : null), 15_000);

  // --- every session of the gateway is killed, twice ----------------------------
  for (let round = 0; round < 2; round++) {
    const killed = await server.terminateBackends();
    assert.ok(killed > 0, 'the gateway had sessions to kill');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const afterKill = traffic.successes();
  await waitFor('mutations succeeding after the sessions were killed', async () => (traffic.successes() > afterKill + 20 ? true : null), 15_000);
  await waitFor('health ok after the sessions were killed', async () => ((await health(gateway.url)).status === 200 ? true : null), 15_000);

  await traffic.stop();
  const outcomes = traffic.outcomes;

  // Every failure was a clear 503, and nothing hung.
  const unclear = outcomes.filter((outcome) => outcome.status !== 200 && !(outcome.status === 503 && outcome.code === 'DatabaseUnavailable'));
  assert.deepEqual(unclear, [], 'every failed request was a 503 DatabaseUnavailable');
  const slowest = Math.max(...outcomes.map((outcome) => outcome.ms));
  assert.ok(slowest < BOUND_MS, `the slowest request took ${slowest} ms`);
  const refused = outcomes.filter((outcome) => outcome.status === 503).length;
  assert.ok(refused > 0, 'some requests met the outage');

  // No acknowledged write was lost.
  const acked = outcomes.filter((outcome) => outcome.status === 200).map((outcome) => outcome.id!);
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM "t_acked" WHERE id = ANY($1)', [acked]);
    assert.equal(Number(rows[0]!.n), acked.length, `all ${acked.length} acknowledged documents are in the database`);
  } finally {
    await client.end();
  }
  t.diagnostic(`${acked.length} acknowledged, ${refused} refused with 503, slowest request ${slowest} ms`);

  // The same process served throughout, and still stops cleanly.
  assert.equal((await health(gateway.url)).body.pid, pid);
  assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
});
