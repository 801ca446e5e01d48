import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';
import { makeProject, removeProject } from '../helpers/project.js';

// Durability and atomicity seen from outside: a mutation the gateway
// acknowledged is in the database after the process is killed with SIGKILL
// and started again, and concurrent increments through an HTTP endpoint
// lose nothing.

const FILES = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({
  entries: defineTable({ writer: v.number(), seq: v.number() }).index('by_writer_seq', ['writer', 'seq']),
  counters: defineTable({ name: v.string(), n: v.number() }).index('by_name', ['name']),
});
`,
  'functions/entries.ts': `
import { mutation, query, v } from 'portico';
export const append = mutation({
  args: { writer: v.number(), seq: v.number() },
  handler: (ctx, args) => ctx.db.insert('entries', args),
});
export const all = query(async (ctx) => (await ctx.db.query('entries').collect()).map((e) => [e._id, e.writer, e.seq]));
`,
  'functions/counter.ts': `
import { httpAction, internalMutation, query, internal, v } from 'portico';

export const bump = internalMutation({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    const counter = await ctx.db.query('counters').withIndex('by_name', (q) => q.eq('name', name)).unique();
    if (!counter) {
      await ctx.db.insert('counters', { name, n: 1 });
      return 1;
    }
    await ctx.db.patch(counter._id, { n: counter.n + 1 });
    return counter.n + 1;
  },
});

export const value = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => (await ctx.db.query('counters').withIndex('by_name', (q) => q.eq('name', name)).unique())?.n ?? 0,
});

/** POST /increment?name=... */
export const increment = httpAction(async (ctx, request) => {
  const name = new URL(request.url).searchParams.get('name') ?? 'default';
  const n = await ctx.runMutation(internal.counter.bump, { name });
  return Response.json({ n });
});
`,
};

function routes(database: string): string {
  return `version: 1
functions: ./functions
backend: { kind: local, database: "${database}" }
storage: { kind: fs, dir: ./.data/storage }
routes:
  - { path: /increment, method: POST, handler: "counter:increment" }
`;
}

const call = async (gateway: RunningGateway, kind: 'query' | 'mutation', path: string, args: Record<string, unknown>) => {
  const response = await fetch(`${gateway.url}/api/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path, args }) });
  const body = await response.json();
  if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.value;
};

/**
 * Runs `writers` loops of appends, each waiting for its acknowledgement,
 * until the process goes away. `acknowledged` fills as answers arrive.
 */
function writeLoad(gateway: RunningGateway, writers: number, round: number) {
  const acknowledged: [string, number, number][] = [];
  const done = Promise.all(
    Array.from({ length: writers }, async (_, i) => {
      const writer = round * 1000 + i;
      for (let seq = 0; ; seq++) {
        try {
          const id = await call(gateway, 'mutation', 'entries:append', { writer, seq });
          acknowledged.push([id, writer, seq]);
        } catch {
          return; // the process is gone
        }
      }
    }),
  );
  return { acknowledged, done };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('durability', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routes('./.data/db.sqlite'), ...FILES });
  });
  after(async () => {
    await removeProject(dir);
  });

  test('every mutation acknowledged before a kill -9 mid-load is there after a restart (SQLite)', async () => {
    const acknowledged: [string, number, number][] = [];
    for (let round = 0; round < 3; round++) {
      const gateway = await startGateway(dir);
      const load = writeLoad(gateway, 16, round);
      // Killed mid-load, with requests in flight, at a different point each round.
      const target = 150 + round * 170;
      const deadline = Date.now() + 30_000;
      while (load.acknowledged.length < target && Date.now() < deadline) await sleep(5);
      gateway.child.kill('SIGKILL');
      const exit = await gateway.exited;
      assert.equal(exit.signal, 'SIGKILL');
      await load.done;
      assert.ok(load.acknowledged.length >= target, `round ${round}: the load ran (${load.acknowledged.length} acknowledged writes)`);
      acknowledged.push(...load.acknowledged);
    }

    const gateway = await startGateway(dir);
    try {
      const stored = (await call(gateway, 'query', 'entries:all', {})) as [string, number, number][];
      const byId = new Map(stored.map(([id, writer, seq]) => [id, `${writer}/${seq}`]));
      const missing = acknowledged.filter(([id, writer, seq]) => byId.get(id) !== `${writer}/${seq}`);
      assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.length} acknowledged writes are missing after SIGKILL`);
      // Nothing is stored twice, and each writer's sequence has no hole up
      // to its last acknowledged write (at most the unacknowledged one after it).
      const keys = new Set(stored.map(([, writer, seq]) => `${writer}/${seq}`));
      assert.equal(keys.size, stored.length);
      const last = new Map<number, number>();
      for (const [, writer, seq] of acknowledged) last.set(writer, Math.max(last.get(writer) ?? -1, seq));
      for (const [writer, seq] of last) {
        for (let i = 0; i <= seq; i++) assert.ok(keys.has(`${writer}/${i}`), `writer ${writer} seq ${i}`);
        assert.ok(!keys.has(`${writer}/${seq + 2}`), `writer ${writer} never sent seq ${seq + 2}`);
      }
    } finally {
      await gateway.stop();
    }
  });

  test('data written before a clean stop is there after a restart', async () => {
    const gateway = await startGateway(dir);
    const id = await call(gateway, 'mutation', 'entries:append', { writer: -1, seq: 0 });
    assert.equal((await gateway.stop()).code, 0);
    const again = await startGateway(dir);
    try {
      const stored = (await call(again, 'query', 'entries:all', {})) as [string, number, number][];
      assert.ok(stored.some(([storedId]) => storedId === id));
    } finally {
      await again.stop();
    }
  });
});

async function concurrentIncrements(database: string): Promise<void> {
  const dir = await makeProject({ 'routes.yaml': routes(database), ...FILES });
  const gateway = await startGateway(dir);
  try {
    const responses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const response = await fetch(`${gateway.url}/increment?name=hits`, { method: 'POST' });
        return { status: response.status, body: await response.json() };
      }),
    );
    assert.deepEqual(
      responses.filter((r) => r.status !== 200),
      [],
      'every increment succeeded',
    );
    assert.equal(await call(gateway, 'query', 'counter:value', { name: 'hits' }), 200);
    // Each request saw a different count: no two read the same value.
    assert.deepEqual(
      responses.map((r) => r.body.n as number).sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  } finally {
    await gateway.stop();
    await removeProject(dir);
  }
}

describe('200 concurrent increments through an HTTP action', () => {
  test('give exactly 200 on SQLite', async () => {
    await concurrentIncrements('./.data/db.sqlite');
  });

  test('give exactly 200 on PostgreSQL', async (t) => {
    const url = await freshDatabase(t);
    if (url) await concurrentIncrements(url);
  });
});
