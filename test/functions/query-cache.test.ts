import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import { ConvexHttpClient } from 'convex/browser';
import { makeFunctionReference } from 'convex/server';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, routesYaml, writeProject } from '../helpers/project.js';
import { freshDatabase } from '../helpers/postgres.js';

// The query cache (backend.queryCache): a cached answer must always equal a
// fresh evaluation. A randomized run interleaves writes of every kind with
// queries of every shape over several tables and indexes, on one gateway and
// on two sharing one database (SQLite file, PostgreSQL), and compares each
// answer given with the cache's usual key (nonce 0) with the same query under
// a key never used before (a fresh nonce: a sure miss). The cache must also
// be used: the hit counter has to grow.

const TABLES = ['t0', 't1', 't2'];

const FILES = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
const fields = { a: v.number(), b: v.string(), n: v.number() };
const table = () => defineTable(fields).index('by_a', ['a']).index('by_ab', ['a', 'b']).index('by_n', ['n']);
export default defineSchema({ t0: table(), t1: table(), t2: table() });
`,
  'functions/data.ts': `
import { mutation, query, v } from 'portico';

export const insert = mutation({
  args: { table: v.string(), doc: v.any() },
  handler: (ctx, { table, doc }) => ctx.db.insert(table as 't0', doc),
});
export const patch = mutation({
  args: { id: v.string(), fields: v.any() },
  handler: async (ctx, { id, fields }) => { await ctx.db.patch(id as any, fields); },
});
export const remove = mutation({ args: { id: v.string() }, handler: (ctx, { id }) => ctx.db.delete(id as any) });
export const failing = mutation({
  args: { table: v.string(), doc: v.any() },
  handler: async (ctx, { table, doc }) => { await ctx.db.insert(table as 't0', doc); throw new Error('rolled back'); },
});

/** Runs the query a spec describes; nonce only changes the cache key. */
export const run = query({
  args: { spec: v.any(), nonce: v.number() },
  handler: async (ctx, { spec }) => {
    if (spec.op === 'get') return ctx.db.get(spec.id);
    let q: any = ctx.db.query(spec.table);
    if (spec.index) {
      q = q.withIndex(spec.index, (r: any) => {
        if (spec.index === 'by_ab' && spec.eq !== undefined) r = r.eq('a', spec.eq);
        const field = spec.index === 'by_ab' ? (spec.eq !== undefined ? 'b' : 'a') : spec.index === 'by_a' ? 'a' : 'n';
        if (spec.gt !== undefined) r = r.gt(field, spec.gt);
        if (spec.lt !== undefined) r = r.lt(field, spec.lt);
        return r;
      });
    }
    q = q.order(spec.order);
    if (spec.filterN !== undefined) q = q.filter((f: any) => f.gt(f.field('n'), spec.filterN));
    switch (spec.op) {
      case 'first': return q.first();
      case 'take': return q.take(spec.n);
      case 'collect': return q.collect();
      case 'unique': return q.unique();
      case 'count': return (await q.collect()).length;
      case 'paginate': return q.paginate({ numItems: spec.n, cursor: null });
    }
    throw new Error('unknown op');
  },
});

/** The caller's subject with a count: per identity. */
export const mine = query({
  args: {},
  handler: async (ctx) => {
    const who = await ctx.auth.getUserIdentity();
    return { who: who?.subject ?? null, count: (await ctx.db.query('t0').collect()).length };
  },
});
export const chatty = query({
  args: {},
  handler: async (ctx) => {
    console.log('counting');
    return (await ctx.db.query('t0').collect()).length;
  },
});
`,
};

const insert = makeFunctionReference<'mutation'>('data:insert');
const patch = makeFunctionReference<'mutation'>('data:patch');
const remove = makeFunctionReference<'mutation'>('data:remove');
const failing = makeFunctionReference<'mutation'>('data:failing');
const run = makeFunctionReference<'query'>('data:run');

/** A small seeded generator, so a failure can be replayed with its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Spec = Record<string, unknown>;

/** A fixed pool of query shapes, so that queries repeat and hit the cache. */
function specPool(random: () => number, ids: () => string[]): () => Spec {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const shapes: Spec[] = [];
  for (const table of TABLES) {
    shapes.push({ table, op: 'collect', order: 'asc' });
    shapes.push({ table, op: 'count', order: 'desc' });
    shapes.push({ table, op: 'first', order: 'desc' });
    shapes.push({ table, index: 'by_a', gt: 2, lt: 6, op: 'collect', order: 'asc' });
    shapes.push({ table, index: 'by_a', gt: 4, op: 'first', order: 'asc' });
    shapes.push({ table, index: 'by_a', lt: 3, op: 'take', n: 2, order: 'desc' });
    shapes.push({ table, index: 'by_ab', eq: 3, op: 'collect', order: 'asc' });
    shapes.push({ table, index: 'by_ab', eq: 5, gt: 'm', op: 'take', n: 3, order: 'desc' });
    shapes.push({ table, index: 'by_n', gt: 50, op: 'unique', order: 'asc' });
    shapes.push({ table, index: 'by_n', op: 'paginate', n: 3, order: 'asc' });
    shapes.push({ table, op: 'take', n: 4, order: 'asc', filterN: 40 });
    shapes.push({ table, index: 'by_a', op: 'first', order: 'desc', filterN: 70 });
  }
  return () => {
    // Now and then a get by id, of a document that may since be gone.
    const known = ids();
    if (known.length > 0 && random() < 0.12) return { op: 'get', id: pick(known) };
    return pick(shapes);
  };
}

interface Instance {
  client: ConvexHttpClient;
  url: string;
}

/** Answers and errors alike, for comparison. */
async function outcome(client: ConvexHttpClient, spec: Spec, nonce: number): Promise<unknown> {
  try {
    return { value: await client.query(run, { spec, nonce }) };
  } catch (error) {
    return { error: (error as Error).message.replace(/\[Request ID: [^\]]+\]\s*/, '').split('\n')[0] };
  }
}

async function cacheHits(url: string): Promise<number> {
  const text = await (await fetch(`${url}/_portico/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith('portico_query_cache_hits_total'));
  return Number(line?.split(' ')[1] ?? NaN);
}

/**
 * Writes and queries in random order across the instances; each query's
 * cached answer is compared with a fresh evaluation on another instance.
 */
async function randomized(instances: Instance[], seed: number, steps: number): Promise<void> {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const ids: string[] = [];
  const nextSpec = specPool(random, () => ids);
  const doc = () => ({ a: Math.floor(random() * 8), b: pick(['a', 'f', 'm', 'q', 'z']), n: Math.floor(random() * 100) });
  let fresh = 1;
  for (let step = 0; step < steps; step++) {
    const writer = pick(instances).client;
    const roll = random();
    if (roll < 0.15 || ids.length < 6) {
      ids.push((await writer.mutation(insert, { table: pick(TABLES), doc: doc() })) as string);
    } else if (roll < 0.25) {
      await writer.mutation(patch, { id: pick(ids), fields: random() < 0.5 ? { a: Math.floor(random() * 8) } : { n: Math.floor(random() * 100), b: pick(['a', 'm', 'z']) } }).catch(() => {});
    } else if (roll < 0.3) {
      const id = ids.splice(Math.floor(random() * ids.length), 1)[0]!;
      await writer.mutation(remove, { id }).catch(() => {});
    } else if (roll < 0.33) {
      await assert.rejects(writer.mutation(failing, { table: pick(TABLES), doc: doc() }));
    } else {
      const spec = nextSpec();
      // Twice through the cache (from a spec's second time on, a hit unless
      // a write came between), once fresh, on instances chosen at random.
      const first = await outcome(pick(instances).client, spec, 0);
      const second = await outcome(pick(instances).client, spec, 0);
      const expected = await outcome(pick(instances).client, spec, fresh++);
      const context = `seed ${seed}, step ${step}, query ${JSON.stringify(spec)}`;
      assert.deepEqual(first, expected, context);
      assert.deepEqual(second, expected, context);
    }
  }
}

const SEED = Number(process.env.PORTICO_CACHE_SEED ?? Date.now() % 100_000);

async function startInstances(dir: string, count: number, extraEnv: Record<string, string> = {}): Promise<{ instances: Instance[]; gateways: RunningGateway[] }> {
  const gateways: RunningGateway[] = [];
  for (let i = 0; i < count; i++) gateways.push(await startGateway(dir, { env: extraEnv }));
  return { gateways, instances: gateways.map((gateway) => ({ url: gateway.url, client: new ConvexHttpClient(gateway.url) })) };
}

const dirs: string[] = [];
const running: RunningGateway[] = [];
after(async () => {
  await Promise.all(running.map((gateway) => gateway.stop()));
  await Promise.all(dirs.map(removeProject));
});

async function project(t: TestContext, backend: string, extra = ''): Promise<string | null> {
  let database = './.data/db.sqlite';
  if (backend === 'postgres') {
    const url = await freshDatabase(t);
    if (url === null) return null;
    database = url;
  }
  const dir = await makeProject({
    ...FILES,
    'routes.yaml': routesYaml('  []', `metrics: { access: open }\n${extra}`).replace('./.data/db.sqlite', database),
  });
  dirs.push(dir);
  return dir;
}

describe('query cache: every cached answer equals a fresh evaluation', () => {
  test(`SQLite, one gateway (seed ${SEED})`, async (t) => {
    const dir = (await project(t, 'sqlite'))!;
    const { instances, gateways } = await startInstances(dir, 1);
    running.push(...gateways);
    await randomized(instances, SEED, 500);
    assert.ok((await cacheHits(instances[0]!.url)) > 50, 'the cache answered a good share of the queries');
  });

  test(`SQLite, two gateways on one database file (seed ${SEED + 1})`, async (t) => {
    const dir = (await project(t, 'sqlite'))!;
    const { instances, gateways } = await startInstances(dir, 2);
    running.push(...gateways);
    await randomized(instances, SEED + 1, 400);
    const hits = (await cacheHits(instances[0]!.url)) + (await cacheHits(instances[1]!.url));
    assert.ok(hits > 20, `the caches answered some queries (${hits})`);
  });

  test(`PostgreSQL, two gateways on one database (seed ${SEED + 2})`, async (t) => {
    const dir = await project(t, 'postgres');
    if (dir === null) return;
    const { instances, gateways } = await startInstances(dir, 2);
    running.push(...gateways);
    await randomized(instances, SEED + 2, 400);
    const hits = (await cacheHits(instances[0]!.url)) + (await cacheHits(instances[1]!.url));
    assert.ok(hits > 20, `the caches answered some queries (${hits})`);
  });
});

describe('query cache: what it keeps, for whom, and what drops it', () => {
  let gateway: RunningGateway;
  let client: ConvexHttpClient;
  let dir: string;

  test('a write outside every range a query read keeps its answer; a write inside drops it', async (t) => {
    dir = (await project(t, 'sqlite'))!;
    gateway = await startGateway(dir);
    running.push(gateway);
    client = new ConvexHttpClient(gateway.url);
    await client.mutation(insert, { table: 't0', doc: { a: 3, b: 'm', n: 1 } });
    const spec = { table: 't0', index: 'by_a', gt: 2, lt: 5, op: 'collect', order: 'asc' };
    // A call is kept from its second time on (the first may never repeat).
    for (let i = 0; i < 2; i++) assert.equal(((await client.query(run, { spec, nonce: 0 })) as unknown[]).length, 1);
    assert.equal(await cacheHits(gateway.url), 0);
    const before = await cacheHits(gateway.url);
    // Outside the range (a: 7), and another table: the answer stays cached.
    await client.mutation(insert, { table: 't0', doc: { a: 7, b: 'm', n: 2 } });
    await client.mutation(insert, { table: 't1', doc: { a: 3, b: 'm', n: 3 } });
    assert.equal(((await client.query(run, { spec, nonce: 0 })) as unknown[]).length, 1);
    assert.equal(await cacheHits(gateway.url), before + 1, 'answered from the cache');
    // Inside the range: a fresh answer.
    await client.mutation(insert, { table: 't0', doc: { a: 4, b: 'm', n: 4 } });
    assert.equal(((await client.query(run, { spec, nonce: 0 })) as unknown[]).length, 2);
    assert.equal(await cacheHits(gateway.url), before + 1, 'not answered from the cache');
  });

  test('a mutation that throws changes nothing, and the cached answer stays', async () => {
    const spec = { table: 't2', op: 'count', order: 'asc' };
    for (let i = 0; i < 2; i++) assert.equal(await client.query(run, { spec, nonce: 0 }), 0);
    await assert.rejects(client.mutation(failing, { table: 't2', doc: { a: 1, b: 'a', n: 1 } }));
    const before = await cacheHits(gateway.url);
    assert.equal(await client.query(run, { spec, nonce: 0 }), 0);
    assert.equal(await cacheHits(gateway.url), before + 1);
  });

  test('a query that asks who the caller is answers each identity its own result', async (t) => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const auth = `auth:\n  providers:\n    - { issuer: "https://issuer.test", audience: app, jwks: ./jwks.json, algorithms: [RS256] }`;
    const authDir = (await project(t, 'sqlite', auth))!;
    await writeProject(authDir, { 'jwks.json': JSON.stringify({ keys: [jwk] }) });
    const authGateway = await startGateway(authDir);
    running.push(authGateway);
    const token = (subject: string) =>
      new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer('https://issuer.test').setAudience('app').setSubject(subject).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    const mine = makeFunctionReference<'query'>('data:mine');
    const alice = new ConvexHttpClient(authGateway.url);
    alice.setAuth(await token('alice'));
    const bob = new ConvexHttpClient(authGateway.url);
    bob.setAuth(await token('bob'));
    const anonymous = new ConvexHttpClient(authGateway.url);
    for (let round = 0; round < 3; round++) {
      assert.equal(((await alice.query(mine, {})) as { who: string }).who, 'alice');
      assert.equal(((await bob.query(mine, {})) as { who: string }).who, 'bob');
      assert.equal(((await anonymous.query(mine, {})) as { who: string | null }).who, null);
    }
    assert.ok((await cacheHits(authGateway.url)) >= 3, 'the third round came from the cache');
    // A bad token still fails, with answers cached for good ones.
    const forged = new ConvexHttpClient(authGateway.url);
    forged.setAuth(`${await token('alice')}x`);
    await assert.rejects(forged.query(mine, {}));
  });

  test('a query that logs runs every time, so its lines are never lost', async () => {
    const response = async () =>
      (await (await fetch(`${gateway.url}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: 'data:chatty', args: {}, format: 'json' }) })).json()) as {
        logLines: string[];
      };
    assert.deepEqual((await response()).logLines, ["[LOG] 'counting'"]);
    assert.deepEqual((await response()).logLines, ["[LOG] 'counting'"]);
  });

  test('backend.queryCache: false answers every query fresh', async (t) => {
    const off = (await project(t, 'sqlite', ''))!;
    await writeProject(off, { 'routes.yaml': routesYaml('  []', 'metrics: { access: open }').replace('backend: { kind: local, database: ./.data/db.sqlite }', 'backend: { kind: local, database: ./.data/db.sqlite, queryCache: false }') });
    const uncached = await startGateway(off);
    running.push(uncached);
    const offClient = new ConvexHttpClient(uncached.url);
    const spec = { table: 't0', op: 'count', order: 'asc' };
    for (let i = 0; i < 3; i++) assert.equal(await offClient.query(run, { spec, nonce: 0 }), 0);
    assert.equal(await cacheHits(uncached.url), 0);
  });

  test('a reload with new code answers from the new code', async () => {
    const spec = { table: 't0', op: 'count', order: 'asc' };
    const count = (await client.query(run, { spec, nonce: 0 })) as number;
    await writeProject(dir, { 'functions/data.ts': FILES['functions/data.ts'].replace("case 'count': return (await q.collect()).length;", "case 'count': return -(await q.collect()).length;") });
    gateway.child.kill('SIGHUP');
    // The reload lands when it lands; until then the old code may answer.
    const deadline = Date.now() + 20_000;
    let answer = count;
    while (answer !== -count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = (await client.query(run, { spec, nonce: 0 })) as number;
    }
    assert.equal(answer, -count, 'the new code answers, not a result cached from the old');
  });
});
