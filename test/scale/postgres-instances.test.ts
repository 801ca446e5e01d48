import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { makeProject, removeProject } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';

// Scaling out on PostgreSQL: several `portico serve` processes (and cluster
// workers) over ONE database agree on data and files, lose no concurrent
// increment, and stop gracefully without losing an acknowledged write.

const functions = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({
  notes: defineTable({ key: v.string(), text: v.string() }).index('by_key', ['key']),
  counters: defineTable({ n: v.number() }),
});
`,
  'functions/data.ts': `
import { httpAction, mutation, query, v } from 'portico';

export const put = mutation({
  args: { key: v.string(), text: v.string() },
  handler: (ctx, { key, text }) => ctx.db.insert('notes', { key, text }),
});
export const byKey = query({
  args: { key: v.string() },
  handler: (ctx, { key }) => ctx.db.query('notes').withIndex('by_key', (q) => q.eq('key', key)).unique(),
});
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query('notes').collect()).length });
export const newCounter = mutation({ args: {}, handler: (ctx) => ctx.db.insert('counters', { n: 0 }) });
export const increment = mutation({
  args: { id: v.id('counters') },
  handler: async (ctx, { id }) => {
    const counter = await ctx.db.get(id);
    if (!counter) throw new Error('no such counter');
    await ctx.db.patch(id, { n: counter.n + 1 });
    return counter.n + 1;
  },
});
export const counter = query({ args: { id: v.id('counters') }, handler: async (ctx, { id }) => (await ctx.db.get(id))?.n ?? null });

// HTTP actions over them.
/** POST /notes/<key>  body: the text */
export const write = httpAction(async (ctx, request) => {
  const key = decodeURIComponent(new URL(request.url).pathname.slice('/notes/'.length));
  const id = await ctx.runMutation('data:put', { key, text: await request.text() });
  return Response.json({ id, key });
});
/** GET /notes/<key> */
export const read = httpAction(async (ctx, request) => {
  const key = decodeURIComponent(new URL(request.url).pathname.slice('/notes/'.length));
  const note = await ctx.runQuery('data:byKey', { key });
  return note ? Response.json(note) : Response.json({ code: 'NotFound' }, { status: 404 });
});
export const increase = httpAction(async (ctx, request) => {
  const id = new URL(request.url).searchParams.get('id');
  return Response.json({ n: await ctx.runMutation('data:increment', { id }) });
});
/** POST /files: stores the body, answers its id and URL. */
export const upload = httpAction(async (ctx, request) => {
  const blob = await request.blob();
  const storageId = await ctx.storage.store(blob);
  return Response.json({ storageId, url: await ctx.storage.getUrl(storageId) });
});
export const hello = httpAction(async () => new Response('hello from ' + process.pid));
/** POST /uploadUrl: an upload URL, to be used from anywhere. */
export const uploadUrl = httpAction(async (ctx) => Response.json({ url: await ctx.storage.generateUploadUrl() }));
`,
};

const routes = `
  - { pathPrefix: /notes/, method: POST, handler: "data:write" }
  - { pathPrefix: /notes/, method: GET, handler: "data:read" }
  - { path: /increase, method: POST, handler: "data:increase" }
  - { path: /files, method: POST, handler: "data:upload", bodyLimit: 20mb }
  - { path: /uploadUrl, method: POST, handler: "data:uploadUrl" }
`;

function postgresYaml(url: string, extra = ''): string {
  return `version: 1
functions: ./functions
backend: { kind: local, database: "${url}", pool: 5 }
${extra}
routes:
${routes}
`;
}

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null && gateway.child.signalCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});

async function projectOn(t: TestContext, extra = ''): Promise<{ dir: string; url: string } | null> {
  const url = await freshDatabase(t);
  if (url === null) return null;
  const dir = await makeProject({ 'routes.yaml': postgresYaml(url, extra), ...functions });
  dirs.push(dir);
  return { dir, url };
}

async function start(dir: string, args: string[] = []): Promise<RunningGateway> {
  const gateway = await startGateway(dir, { args, timeoutMs: 60_000 });
  gateways.push(gateway);
  return gateway;
}

async function call(base: string, kind: 'query' | 'mutation', path: string, args: Record<string, unknown> = {}): Promise<any> {
  const response = await fetch(`${base}/api/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, args, format: 'json' }),
  });
  const body = await response.json();
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.value;
}

/** One request on its own connection (no keep-alive): refused once the listener closes. */
function fresh(url: string, init: { method: string; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: init.method, agent: false, headers: { connection: 'close' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => (response.complete ? resolve({ status: response.statusCode!, body }) : reject(Object.assign(new Error('truncated response'), { code: 'TRUNCATED' }))));
      response.on('error', () => reject(Object.assign(new Error('response cut off'), { code: 'TRUNCATED' })));
    });
    request.on('error', reject);
    // A request that is never answered is a failure with a name, not a hang.
    request.setTimeout(20_000, () => request.destroy(Object.assign(new Error(`no answer within 20 s: ${init.method} ${url}`), { code: 'NO_ANSWER' })));
    request.end(init.body);
  });
}

describe('two instances over one PostgreSQL database', () => {
  test('a write through one instance is read through the other', async (t) => {
    const project = await projectOn(t);
    if (!project) return;
    const [one, two] = [await start(project.dir), await start(project.dir)];
    assert.notEqual(one.port, two.port);

    const written = await fetch(`${one.url}/notes/ada`, { method: 'POST', body: 'hello from one' });
    assert.equal(written.status, 200);
    const { id } = await written.json();

    const read = await fetch(`${two.url}/notes/ada`);
    assert.equal(read.status, 200);
    const note = await read.json();
    assert.equal(note._id, id);
    assert.equal(note.text, 'hello from one');
    // And the function API of either instance sees the same document.
    assert.equal((await call(one.url, 'query', 'data:byKey', { key: 'ada' }))._id, id);

    // The other way round, through the function API.
    await call(two.url, 'mutation', 'data:put', { key: 'grace', text: 'from two' });
    assert.equal((await (await fetch(`${one.url}/notes/grace`)).json()).text, 'from two');

    assert.deepEqual(await one.stop(), { code: 0, signal: null });
    assert.deepEqual(await two.stop(), { code: 0, signal: null });
  });

  test('200 concurrent increments of one document, spread over both, lose nothing', async (t) => {
    const project = await projectOn(t);
    if (!project) return;
    const [one, two] = [await start(project.dir), await start(project.dir)];
    const id = await call(one.url, 'mutation', 'data:newCounter');

    const TOTAL = 200;
    const CONCURRENCY = 24;
    const results: number[] = [];
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < TOTAL) {
        const i = next++;
        const base = i % 2 === 0 ? one.url : two.url;
        const response = await fetch(`${base}/increase?id=${encodeURIComponent(id)}`, { method: 'POST' });
        const text = await response.text();
        if (response.status !== 200) failures.push(`${response.status} ${text}`);
        else results.push(JSON.parse(text).n);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    assert.deepEqual(failures, []);
    // Serializable: every increment saw a different value, 1 to 200.
    assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: TOTAL }, (_, i) => i + 1));
    assert.equal(await call(two.url, 'query', 'data:counter', { id }), TOTAL);
    assert.equal(await call(one.url, 'query', 'data:counter', { id }), TOTAL);

    assert.deepEqual(await one.stop(), { code: 0, signal: null });
    assert.deepEqual(await two.stop(), { code: 0, signal: null });
  });

  test('with storage.kind: database, a file uploaded through one downloads identically through the other', async (t) => {
    const project = await projectOn(t, 'storage: { kind: database }');
    if (!project) return;
    const [one, two] = [await start(project.dir), await start(project.dir)];

    // Several MiB, so the bytes go to the database in more than one chunk.
    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    const stored = await fetch(`${one.url}/files`, { method: 'POST', headers: { 'content-type': 'application/x-test' }, body: bytes });
    assert.equal(stored.status, 200, await stored.clone().text());
    const { storageId } = await stored.json();

    const download = await fetch(`${two.url}/api/storage/${storageId}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'application/x-test');
    assert.equal(Number(download.headers.get('content-length')), bytes.length);
    const received = Buffer.from(await download.arrayBuffer());
    assert.equal(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    assert.ok(received.equals(bytes));

    // A byte range, served by the other instance.
    const range = await fetch(`${two.url}/api/storage/${storageId}`, { headers: { range: 'bytes=1048570-1048589' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(1048570, 1048590)));

    // An upload URL made by one instance works against the other.
    const { url } = await (await fetch(`${one.url}/uploadUrl`, { method: 'POST' })).json();
    const uploadPath = new URL(url).pathname + new URL(url).search;
    const second = randomBytes(70_000);
    const uploaded = await fetch(`${two.url}${uploadPath}`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: second });
    assert.equal(uploaded.status, 200, await uploaded.clone().text());
    const { storageId: secondId } = await uploaded.json();
    assert.ok(Buffer.from(await (await fetch(`${one.url}/api/storage/${secondId}`)).arrayBuffer()).equals(second));

    // The bytes are in the database (as chunk rows), not on either instance's disk.
    const client = new pg.Client({ connectionString: project.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT sum(length(bytes))::bigint AS total, count(*)::int AS chunks FROM _portico_file_chunks WHERE storage_id = $1', [storageId]);
      assert.equal(Number(rows[0].total), bytes.length);
      assert.ok(rows[0].chunks > 1, `${rows[0].chunks} chunks`);
    } finally {
      await client.end();
    }
    assert.equal(existsSync(path.join(project.dir, '.data', 'storage')), false);

    assert.deepEqual(await one.stop(), { code: 0, signal: null });
    assert.deepEqual(await two.stop(), { code: 0, signal: null });
  });
});

describe('portico serve --workers 2', () => {
  test('workers share the port, requests reach both, SIGTERM stops them all and exits 0', async (t) => {
    const project = await projectOn(t);
    if (!project) return;
    const gateway = await start(project.dir, ['--workers', '2']);
    assert.match(gateway.stderr(), /2 workers/);

    // New connections are spread over the workers.
    const pids = new Set<number>();
    for (let i = 0; i < 40 && pids.size < 2; i++) {
      const response = await fresh(`${gateway.url}/_portico/health`, { method: 'GET' });
      assert.equal(response.status, 200);
      pids.add(JSON.parse(response.body).pid);
    }
    assert.equal(pids.size, 2, 'two worker processes answered on the one port');
    assert.ok(!pids.has(gateway.child.pid!), 'the primary does not serve');

    // Both see the same database.
    await fresh(`${gateway.url}/notes/w`, { method: 'POST', body: 'via workers' });
    for (let i = 0; i < 6; i++) assert.equal(JSON.parse((await fresh(`${gateway.url}/notes/w`, { method: 'GET' })).body).text, 'via workers');

    // The request log lines carry both pids.
    const logged = await waitFor(() => {
      const seen = new Set(gateway.logs().filter((line) => line.msg === 'request').map((line) => line.pid as number));
      return seen.size >= 2 ? seen : null;
    }, 10_000);
    assert.deepEqual([...logged].sort(), [...pids].sort());

    // SIGHUP to the primary reloads every worker.
    await writeFile(path.join(project.dir, 'routes.yaml'), postgresYaml(project.url).replace('routes:\n', 'routes:\n  - { path: /hello, method: GET, handler: "data:hello" }\n'));
    gateway.child.kill('SIGHUP');
    const reloadedPids = await waitFor(() => {
      const seen = new Set(gateway.logs().filter((line) => line.event === 'reloaded').map((line) => line.pid as number));
      return seen.size >= 2 ? seen : null;
    }, 20_000);
    assert.deepEqual([...reloadedPids].sort(), [...pids].sort());
    const answeredBy = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const response = await fresh(`${gateway.url}/hello`, { method: 'GET' });
      assert.equal(response.status, 200);
      answeredBy.add(response.body);
    }
    assert.equal(answeredBy.size, 2, [...answeredBy].join(', '));

    // A worker that dies is replaced; the port keeps answering meanwhile.
    const [victim] = [...pids];
    process.kill(victim!, 'SIGKILL');
    const replacement = await waitForAsync(async () => {
      const { pid } = JSON.parse((await fresh(`${gateway.url}/_portico/health`, { method: 'GET' })).body);
      return pids.has(pid) ? null : (pid as number);
    }, 30_000);
    assert.match(gateway.stderr(), new RegExp(`worker ${victim} exited \\(SIGKILL\\); starting another`));

    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
    for (const pid of [...pids, replacement]) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  });
});

describe('SIGTERM during a write load', () => {
  test('every accepted request finishes, the process exits 0, no acknowledged write is lost', async (t) => {
    const project = await projectOn(t);
    if (!project) return;
    const gateway = await start(project.dir);

    const acknowledged: string[] = [];
    const refused: string[] = [];
    const failures: string[] = [];
    let counter = 0;
    let running = true;
    const loop = async (loopId: number) => {
      while (running) {
        const key = `k${loopId}-${counter++}`;
        try {
          const response = await fresh(`${gateway.url}/notes/${key}`, { method: 'POST', body: `text of ${key}` });
          if (response.status === 200 && JSON.parse(response.body).key === key) acknowledged.push(key);
          else failures.push(`${key}: ${response.status} ${response.body}`);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ECONNREFUSED') {
            refused.push(key);
            running = false;
          } else failures.push(`${key}: ${code ?? error}`);
        }
      }
    };
    const loops = Array.from({ length: 8 }, (_, i) => loop(i));
    await waitFor(() => (acknowledged.length >= 100 ? true : null), 30_000);
    gateway.child.kill('SIGTERM');
    const exit = await gateway.exitedWithin(45_000);
    running = false;
    await Promise.all(loops);

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(refused.length > 0, 'the load went on until the listener closed');
    // Closing the listener resets connections the kernel had queued but the
    // server had not yet taken (as with any server that closes its listening
    // socket); such a request never reached Portico. Anything else, an HTTP
    // error or a response cut off, is a request dropped by the stop.
    const notReset = failures.filter((failure) => !/: (ECONNRESET|EPIPE)$/.test(failure));
    assert.deepEqual(notReset, []);
    const seenByServer = new Set(gateway.logs().filter((line) => line.msg === 'request').map((line) => String(line.path)));
    const dropped = failures.filter((failure) => seenByServer.has(`/notes/${failure.split(':')[0]}`));
    assert.deepEqual(dropped, [], 'requests the server received but never answered');
    assert.ok(seenByServer.size >= acknowledged.length);

    // Every acknowledged write is in the database, read by a new instance.
    const reader = await start(project.dir);
    const missing: string[] = [];
    for (const key of acknowledged) {
      const note = await call(reader.url, 'query', 'data:byKey', { key });
      if (note?.text !== `text of ${key}`) missing.push(key);
    }
    assert.deepEqual(missing, []);
    assert.ok(acknowledged.length >= 100);
    // Nothing was written that the log did not account for either.
    assert.ok((await call(reader.url, 'query', 'data:count')) >= acknowledged.length);
    assert.deepEqual(await reader.stop(), { code: 0, signal: null });
  });
});

async function waitFor<T>(check: () => T | null, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitForAsync<T>(check: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
