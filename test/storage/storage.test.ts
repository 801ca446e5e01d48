import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { rawRequest, freePort } from '../helpers/http.js';
import { freshDatabase } from '../helpers/postgres.js';

// File storage as docs/function-api.md and docs/convex-compatibility.md describe it, over real
// sockets: ctx.storage in every kind of function, uploads and downloads
// through an HTTP action and through upload URLs (compared by sha256),
// GET /api/storage/<id> with its headers, conditional and range requests,
// upload tokens (forged, expired), Digest checks, the body limit, hostile
// ids, memory use on a 200 MiB file, crash safety of uploads, the same
// round trip with the bytes kept in PostgreSQL (storage.kind: database), and
// the example app's POST /sendImage.

const ADMIN_KEY = 'storage-test-admin-key-0123456789';

const filesModule = `
import { action, httpAction, mutation, query, v } from 'portico';

const idOf = (request: Request) => new URL(request.url).searchParams.get('id') ?? '';

export const store = httpAction(async (ctx, request) => {
  const storageId = await ctx.storage.store(await request.blob());
  return Response.json({ storageId, url: await ctx.storage.getUrl(storageId), metadata: await ctx.storage.getMetadata(storageId) });
});

export const storeWithSha = httpAction(async (ctx, request) => {
  const sha256 = new URL(request.url).searchParams.get('sha256')!;
  const storageId = await ctx.storage.store(await request.blob(), { sha256 });
  return Response.json({ storageId });
});

export const storeNotBlob = httpAction(async (ctx, request) => {
  try {
    await ctx.storage.store((await request.text()) as any);
    return Response.json({ stored: true });
  } catch (error) {
    return Response.json({ error: (error as Error).message });
  }
});

// Serves a file through the HTTP action path, as the Convex docs do.
export const download = httpAction(async (ctx, request) => {
  const blob = await ctx.storage.get(idOf(request));
  if (blob === null) return Response.json({ found: false }, { status: 404 });
  return new Response(blob);
});

export const lookup = httpAction(async (ctx, request) => {
  const id = idOf(request);
  return Response.json({ url: await ctx.storage.getUrl(id), metadata: await ctx.storage.getMetadata(id) });
});

export const remove = httpAction(async (ctx, request) => {
  try {
    await ctx.storage.delete(idOf(request));
    return Response.json({ deleted: true });
  } catch (error) {
    return Response.json({ error: (error as Error).message });
  }
});

export const uploadUrl = httpAction(async (ctx) => Response.json({ url: await ctx.storage.generateUploadUrl() }));

// Tries every storage method and reports what each did.
async function probe(storage: any, kind: string, readId: string, deleteId: string) {
  const outcome: Record<string, unknown> = {};
  const attempt = async (name: string, run: () => Promise<unknown>) => {
    try {
      outcome[name] = { ok: true, value: await run() };
    } catch (error) {
      outcome[name] = { ok: false, error: String((error as Error)?.message ?? error) };
    }
  };
  await attempt('getUrl', () => storage.getUrl(readId));
  await attempt('getMetadata', () => storage.getMetadata(readId));
  await attempt('generateUploadUrl', () => storage.generateUploadUrl());
  await attempt('store', () => storage.store(new Blob(['stored by a ' + kind], { type: 'text/plain' })));
  await attempt('get', async () => {
    const blob = await storage.get(readId);
    return blob && { type: blob.type, text: await blob.text() };
  });
  await attempt('delete', async () => {
    await storage.delete(deleteId);
    return 'deleted';
  });
  return outcome;
}
const probeArgs = { readId: v.string(), deleteId: v.string() };
export const probeQuery = query({ args: probeArgs, handler: (ctx, a) => probe(ctx.storage, 'query', a.readId, a.deleteId) });
export const probeMutation = mutation({ args: probeArgs, handler: (ctx, a) => probe(ctx.storage, 'mutation', a.readId, a.deleteId) });
export const probeAction = action({ args: probeArgs, handler: (ctx, a) => probe(ctx.storage, 'action', a.readId, a.deleteId) });
export const probeHttp = httpAction(async (ctx, request) => {
  const { readId, deleteId } = await request.json();
  return Response.json(await probe(ctx.storage, 'HTTP action', readId, deleteId));
});

// A mutation's storage writes belong to its transaction.
export const storeAndReadBack = mutation({
  args: { fail: v.boolean() },
  handler: async (ctx, { fail }) => {
    const storageId = await ctx.storage.store(new Blob(['written in a mutation'], { type: 'text/plain' }));
    if (fail) throw new Error('rolled back on purpose: ' + storageId);
    const blob = await ctx.storage.get(storageId);
    return { storageId, url: await ctx.storage.getUrl(storageId), metadata: await ctx.storage.getMetadata(storageId), text: blob && (await blob.text()) };
  },
});
export const deleteAndMaybeFail = mutation({
  args: { id: v.string(), fail: v.boolean() },
  handler: async (ctx, { id, fail }) => {
    await ctx.storage.delete(id);
    const after = await ctx.storage.getUrl(id);
    if (fail) throw new Error('rolled back on purpose');
    return { after };
  },
});

export const systemRow = query({
  args: { id: v.string() },
  handler: async (ctx, { id }) => ({
    byGet: await ctx.db.system.get('_storage' as any, id as any),
    inQuery: (await ctx.db.system.query('_storage' as any).collect()).some((row: any) => row._id === id),
  }),
});

export const addNote = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
`;

const fileRoutes = `
  - { path: /store, method: POST, handler: "files:store" }
  - { path: /store-sha, method: POST, handler: "files:storeWithSha" }
  - { path: /store-not-blob, method: POST, handler: "files:storeNotBlob" }
  - { path: /download, method: GET, handler: "files:download" }
  - { path: /lookup, method: GET, handler: "files:lookup" }
  - { path: /remove, method: POST, handler: "files:remove" }
  - { path: /upload-url, method: POST, handler: "files:uploadUrl" }
  - { path: /probe, method: POST, handler: "files:probeHttp" }
`;

const LIMIT = 8 * 1024 * 1024;
const settings = `limits: { body: 8mb, timeout: 60s }
api: { adminKey: ${ADMIN_KEY} }`;

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sha256B64 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64');

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});

async function project(yaml: string): Promise<string> {
  const dir = await makeProject({ 'routes.yaml': yaml, 'functions/files.ts': filesModule });
  dirs.push(dir);
  return dir;
}
async function start(dir: string, env: Record<string, string> = {}): Promise<RunningGateway> {
  const gateway = await startGateway(dir, { timeoutMs: 60_000, env: { ...env } });
  gateways.push(gateway);
  return gateway;
}

/** Every file under the storage folder (temporary ones included), relative to it. */
async function filesOnDisk(dir: string): Promise<string[]> {
  const root = path.join(dir, '.data', 'storage');
  const found: string[] = [];
  const walk = async (folder: string) => {
    for (const entry of await readdir(folder, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(path.relative(root, full));
    }
  };
  await walk(root);
  return found.sort();
}

interface MetadataRow {
  id: string;
  sha256: string;
  size: number;
}

/** The rows of the `_storage` table, read straight from the SQLite file. */
function metadataRows(dir: string): MetadataRow[] {
  const db = new Database(path.join(dir, '.data', 'db.sqlite'), { readonly: true });
  try {
    const exists = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 't__storage'`).get();
    if (!exists) return [];
    const rows = db.prepare('SELECT id, doc FROM "t__storage"').all() as { id: string; doc: string }[];
    return rows.map((row) => {
      const doc = JSON.parse(row.doc) as { sha256: string; size: number };
      return { id: row.id, sha256: doc.sha256, size: doc.size };
    });
  } finally {
    db.close();
  }
}

function uploadSecret(dir: string): Buffer {
  const db = new Database(path.join(dir, '.data', 'db.sqlite'), { readonly: true });
  try {
    const row = db.prepare(`SELECT value FROM _portico_meta WHERE key = 'storage.upload_token_secret'`).get() as { value: string };
    return Buffer.from(row.value, 'base64');
  } finally {
    db.close();
  }
}

/** An upload token made with the deployment's own secret, expiring at `expiry` (ms since the epoch). */
function mintToken(secret: Buffer, expiry: number): string {
  const payload = Buffer.from(`${expiry}.${randomBytes(9).toString('base64url')}`).toString('base64url');
  return `${payload}.${createHmac('sha256', secret).update(payload).digest('base64url')}`;
}

/** The gateway process's peak resident memory (VmHWM), in bytes. */
async function peakMemory(gateway: RunningGateway): Promise<number> {
  const status = await readFile(`/proc/${gateway.child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function json(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    assert.fail(`expected JSON, got ${response.status} ${JSON.stringify(text.slice(0, 300))}`);
  }
}

async function storeThroughAction(gateway: RunningGateway, bytes: Uint8Array, contentType = 'application/octet-stream') {
  const response = await fetch(`${gateway.url}/store`, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer>, headers: { 'content-type': contentType } });
  const body = await json(response);
  assert.equal(response.status, 200, JSON.stringify(body));
  return body as { storageId: string; url: string; metadata: { storageId: string; sha256: string; size: number; contentType: string | null } };
}

async function uploadUrl(gateway: RunningGateway): Promise<string> {
  const response = await fetch(`${gateway.url}/upload-url`, { method: 'POST' });
  assert.equal(response.status, 200);
  return (await response.json()).url;
}

async function upload(url: string, bytes: Uint8Array, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer>, headers });
  return { response, body: await json(response) };
}

async function fetchBytes(url: string, init?: RequestInit) {
  const response = await fetch(url, init);
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe('file storage on the filesystem', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await project(routesYaml(fileRoutes, settings));
    gateway = await start(dir);
  });

  test('a file stored by an HTTP action comes back identical through /api/storage and through ctx.storage.get', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const stored = await storeThroughAction(gateway, bytes, 'image/png');
    assert.equal(stored.url, `${gateway.url}/api/storage/${stored.storageId}`);
    assert.deepEqual(stored.metadata, { storageId: stored.storageId, sha256: sha256Hex(bytes), size: bytes.length, contentType: 'image/png' });

    const served = await fetchBytes(stored.url);
    assert.equal(served.response.status, 200);
    assert.equal(served.response.headers.get('content-type'), 'image/png');
    assert.equal(sha256Hex(served.bytes), sha256Hex(bytes));

    const viaAction = await fetchBytes(`${gateway.url}/download?id=${stored.storageId}`);
    assert.equal(viaAction.response.status, 200);
    assert.equal(viaAction.response.headers.get('content-type'), 'image/png');
    assert.equal(sha256Hex(viaAction.bytes), sha256Hex(bytes));
  });

  test('a file uploaded to a generateUploadUrl() URL comes back identical through both paths', async () => {
    const url = await uploadUrl(gateway);
    assert.match(url, new RegExp(`^${gateway.url}/api/storage/upload\\?token=[A-Za-z0-9_.-]+$`));
    const bytes = randomBytes(4 * 1024 * 1024 + 3);
    const { response, body } = await upload(url, bytes, { 'content-type': 'application/pdf' });
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body), ['storageId']);

    const served = await fetchBytes(`${gateway.url}/api/storage/${body.storageId}`);
    assert.equal(served.response.headers.get('content-type'), 'application/pdf');
    assert.equal(sha256Hex(served.bytes), sha256Hex(bytes));
    const viaAction = await fetchBytes(`${gateway.url}/download?id=${body.storageId}`);
    assert.equal(sha256Hex(viaAction.bytes), sha256Hex(bytes));

    const { metadata } = await json(await fetch(`${gateway.url}/lookup?id=${body.storageId}`));
    assert.deepEqual(metadata, { storageId: body.storageId, sha256: sha256Hex(bytes), size: bytes.length, contentType: 'application/pdf' });
  });

  test('an upload URL accepts an empty body and a body without Content-Type (contentType null)', async () => {
    const { response, body } = await upload(await uploadUrl(gateway), new Uint8Array(0));
    assert.equal(response.status, 200, JSON.stringify(body));
    const { metadata } = await json(await fetch(`${gateway.url}/lookup?id=${body.storageId}`));
    assert.equal(metadata.size, 0);
    assert.equal(metadata.sha256, sha256Hex(new Uint8Array(0)));
    assert.equal(metadata.contentType, null);
  });

  test('the metadata is a document of the _storage system table: sha256 in base64, size, contentType', async () => {
    const bytes = randomBytes(4321);
    const { storageId } = await storeThroughAction(gateway, bytes, 'font/woff2');
    const response = await fetch(`${gateway.url}/api/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'files:systemRow', args: { id: storageId }, format: 'json' }),
    });
    const { status, value } = await json(response);
    assert.equal(status, 'success', JSON.stringify(value));
    const { _creationTime, ...row } = value.byGet;
    assert.equal(typeof _creationTime, 'number');
    assert.deepEqual(row, { _id: storageId, sha256: sha256B64(bytes), size: 4321, contentType: 'font/woff2' });
    assert.equal(value.inQuery, true);
  });

  test('store() refuses what is neither a Blob nor a Request', async () => {
    const body = await json(await fetch(`${gateway.url}/store-not-blob`, { method: 'POST', body: 'x' }));
    assert.equal(body.error, 'store() expects a Blob or a Request');
  });

  test('store(blob, {sha256}) checks the base64 sha256; a mismatch is a function error (500, as in Convex) and keeps nothing', async () => {
    const bytes = randomBytes(1000);
    const good = await fetch(`${gateway.url}/store-sha?sha256=${encodeURIComponent(sha256B64(bytes))}`, { method: 'POST', body: bytes });
    assert.equal(good.status, 200);
    const before = await filesOnDisk(dir);
    const rowsBefore = metadataRows(dir).length;
    const bad = await fetch(`${gateway.url}/store-sha?sha256=${encodeURIComponent(sha256B64(randomBytes(8)))}`, { method: 'POST', body: bytes });
    assert.equal(bad.status, 500);
    assert.match((await bad.json()).code, /^\[Request ID: [^\]]+\] Server Error: Uncaught Error: .*sha256/);
    assert.deepEqual(await filesOnDisk(dir), before);
    assert.equal(metadataRows(dir).length, rowsBefore);
  });

  describe('ctx.storage in each kind of function (docs/convex-compatibility.md, storage)', () => {
    const readBytes = Buffer.from('the file every probe reads');
    let readId: string;
    before(async () => {
      readId = (await storeThroughAction(gateway, readBytes, 'text/plain')).storageId;
    });
    const expected = () => ({
      url: `${gateway.url}/api/storage/${readId}`,
      metadata: { storageId: readId, sha256: sha256Hex(readBytes), size: readBytes.length, contentType: 'text/plain' },
    });

    /** Runs a probe with a fresh file for it to delete. */
    const probeWith = async (call: (deleteId: string) => Promise<any>) => {
      const { storageId: deleteId } = await storeThroughAction(gateway, Buffer.from('to delete'));
      const filesBefore = (await filesOnDisk(dir)).length;
      return { deleteId, filesBefore, outcome: await call(deleteId) };
    };
    const viaApi = (kind: string, name: string) => async (deleteId: string) => {
      const response = await fetch(`${gateway.url}/api/${kind}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: `files:${name}`, args: { readId, deleteId }, format: 'json' }),
      });
      const body = await json(response);
      assert.equal(body.status, 'success', JSON.stringify(body));
      return body.value;
    };
    const viaHttp = async (deleteId: string) => json(await fetch(`${gateway.url}/probe`, { method: 'POST', body: JSON.stringify({ readId, deleteId }) }));

    test('a query may only look files up: getUrl and getMetadata work, the rest is refused and does nothing', async () => {
      const { outcome, deleteId, filesBefore } = await probeWith(viaApi('query', 'probeQuery'));
      assert.deepEqual(outcome.getUrl, { ok: true, value: expected().url });
      assert.deepEqual(outcome.getMetadata, { ok: true, value: expected().metadata });
      for (const method of ['generateUploadUrl', 'store', 'get', 'delete']) {
        assert.equal(outcome[method].ok, false, `${method} in a query: ${JSON.stringify(outcome[method])}`);
        assert.match(outcome[method].error, new RegExp(method), method);
      }
      assert.equal((await filesOnDisk(dir)).length, filesBefore, 'a query stored or deleted a file');
      assert.equal((await fetch(`${gateway.url}/api/storage/${deleteId}`)).status, 200, 'a query deleted a file');
    });

    for (const [kind, call] of [
      ['mutation', () => viaApi('mutation', 'probeMutation')],
      ['action', () => viaApi('action', 'probeAction')],
      ['HTTP action', () => viaHttp],
    ] as const) {
      // In a mutation, store() and delete() write metadata while the mutation's own transaction is open:
      // on SQLite's single write lane they must not queue behind it (that deadlocks until the timeout).
      const title = `${kind === 'mutation' ? 'a' : 'an'} ${kind} has every method: getUrl, getMetadata, generateUploadUrl, store, get, delete`;
      test(kind === 'mutation' ? `${title} (store and delete do not wait for the mutation's own transaction)` : title, { timeout: 60_000 }, async () => {
        const { deleteId, outcome } = await probeWith(call());
        assert.deepEqual(outcome.getUrl, { ok: true, value: expected().url });
        assert.deepEqual(outcome.getMetadata, { ok: true, value: expected().metadata });
        assert.equal(outcome.generateUploadUrl.ok, true, JSON.stringify(outcome.generateUploadUrl));
        assert.match(outcome.generateUploadUrl.value, new RegExp(`^${gateway.url}/api/storage/upload\\?token=`));
        assert.equal(outcome.store.ok, true, JSON.stringify(outcome.store));
        assert.deepEqual(outcome.get, { ok: true, value: { type: 'text/plain', text: 'the file every probe reads' } });
        assert.deepEqual(outcome.delete, { ok: true, value: 'deleted' });
        // What store() kept is there, what delete() removed is gone.
        const stored = await fetchBytes(`${gateway.url}/api/storage/${outcome.store.value}`);
        assert.equal(Buffer.from(stored.bytes).toString(), `stored by a ${kind}`);
        assert.equal(stored.response.headers.get('content-type'), 'text/plain');
        assert.equal((await fetch(`${gateway.url}/api/storage/${deleteId}`)).status, 404);
      });
    }
  });

  describe('ctx.storage in a mutation is part of its transaction', () => {
    const mutate = async (name: string, args: Record<string, unknown>) => {
      const response = await fetch(`${gateway.url}/api/mutation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: `files:${name}`, args, format: 'json' }),
      });
      return json(response);
    };

    test('a file stored by a mutation is visible to it at once, and stays once it commits', { timeout: 60_000 }, async () => {
      const result = await mutate('storeAndReadBack', { fail: false });
      assert.equal(result.status, 'success', JSON.stringify(result));
      const { storageId, url, metadata, text } = result.value;
      assert.equal(url, `${gateway.url}/api/storage/${storageId}`);
      assert.equal(metadata.size, 'written in a mutation'.length);
      assert.equal(text, 'written in a mutation');
      assert.equal(Buffer.from((await fetchBytes(url)).bytes).toString(), 'written in a mutation');
    });

    test('a file stored by a mutation that then fails is not there afterwards', { timeout: 60_000 }, async () => {
      const result = await mutate('storeAndReadBack', { fail: true });
      assert.equal(result.status, 'error');
      const storageId = /rolled back on purpose: ([0-9a-z]+)/.exec(result.errorMessage)?.[1];
      assert.ok(storageId, result.errorMessage);
      assert.equal((await fetch(`${gateway.url}/api/storage/${storageId}`)).status, 404);
      assert.deepEqual(await json(await fetch(`${gateway.url}/lookup?id=${storageId}`)), { url: null, metadata: null });
    });

    test('a delete in a mutation that then fails leaves the file whole; a committed one removes its bytes from disk too', { timeout: 60_000 }, async () => {
      const bytes = randomBytes(10_000);
      const { storageId } = await storeThroughAction(gateway, bytes);
      const onDisk = path.join(dir, '.data', 'storage', storageId.slice(-2), storageId);

      const failed = await mutate('deleteAndMaybeFail', { id: storageId, fail: true });
      assert.equal(failed.status, 'error');
      assert.match(failed.errorMessage, /rolled back on purpose/);
      // Long enough for a removal that wrongly followed the rolled-back delete.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const kept = await fetchBytes(`${gateway.url}/api/storage/${storageId}`);
      assert.equal(kept.response.status, 200);
      assert.equal(sha256Hex(kept.bytes), sha256Hex(bytes));

      const committed = await mutate('deleteAndMaybeFail', { id: storageId, fail: false });
      assert.deepEqual(committed, { status: 'success', value: { after: null } });
      assert.equal((await fetch(`${gateway.url}/api/storage/${storageId}`)).status, 404);
      const deadline = Date.now() + 10_000;
      while (existsSync(onDisk) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(!existsSync(onDisk), 'the bytes of a committed delete are removed');
    });
  });

  test('delete(): the file is gone (404 FileNotFound, getUrl null, get null); deleting again throws "storage id <id> not found"', async () => {
    const { storageId } = await storeThroughAction(gateway, Buffer.from('short-lived'));
    const onDisk = path.join(dir, '.data', 'storage', storageId.slice(-2), storageId);
    assert.ok(existsSync(onDisk), 'the bytes are on disk under the storage dir');
    assert.deepEqual(await json(await fetch(`${gateway.url}/remove?id=${storageId}`, { method: 'POST' })), { deleted: true });
    assert.ok(!existsSync(onDisk), 'delete() removed the bytes');

    const response = await fetch(`${gateway.url}/api/storage/${storageId}`);
    assert.equal(response.status, 404);
    assert.equal((await response.json()).code, 'FileNotFound');
    assert.deepEqual(await json(await fetch(`${gateway.url}/lookup?id=${storageId}`)), { url: null, metadata: null });
    const viaAction = await fetch(`${gateway.url}/download?id=${storageId}`);
    assert.equal(viaAction.status, 404);
    assert.deepEqual(await viaAction.json(), { found: false });

    const again = await json(await fetch(`${gateway.url}/remove?id=${storageId}`, { method: 'POST' }));
    assert.match(again.error, new RegExp(`^storage id ${storageId} not found$`));
  });

  describe('GET /api/storage/<id>', () => {
    const bytes = randomBytes(1000);
    let url: string;
    let emptyUrl: string;
    before(async () => {
      url = (await storeThroughAction(gateway, bytes, 'application/x-test')).url;
      emptyUrl = (await storeThroughAction(gateway, new Uint8Array(0), 'text/plain')).url;
    });

    test('answers with Content-Type, Content-Length, ETag, Cache-Control, Accept-Ranges and Digest', async () => {
      const { response, bytes: body } = await fetchBytes(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/x-test');
      assert.equal(response.headers.get('content-length'), '1000');
      assert.equal(response.headers.get('etag'), `"${sha256Hex(bytes)}"`);
      assert.equal(response.headers.get('cache-control'), 'private, max-age=2592000');
      assert.equal(response.headers.get('accept-ranges'), 'bytes');
      assert.equal(response.headers.get('digest'), `sha-256=${sha256B64(bytes)}`);
      assert.ok(response.headers.get('x-request-id'));
      assert.deepEqual(Buffer.from(body), bytes);
    });

    test('HEAD sends the same headers and no body', async () => {
      const response = await fetch(url, { method: 'HEAD' });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-length'), '1000');
      assert.equal(response.headers.get('etag'), `"${sha256Hex(bytes)}"`);
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    test('If-None-Match with the ETag answers 304 without a body; another ETag gets the file', async () => {
      const etag = `"${sha256Hex(bytes)}"`;
      const raw = await rawRequest(gateway.port, `GET ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nIf-None-Match: "other", ${etag}\r\nConnection: close\r\n\r\n`);
      assert.equal(raw.status, 304);
      assert.equal(raw.headers.etag, etag);
      assert.equal(raw.body, '');
      const other = await fetch(url, { headers: { 'if-none-match': '"0000"' } });
      assert.equal(other.status, 200);
      assert.equal((await other.arrayBuffer()).byteLength, 1000);
    });

    for (const [range, start, end] of [
      ['bytes=20-29', 20, 29],
      ['bytes=-10', 990, 999],
      ['bytes=100-', 100, 999],
      ['bytes=990-5000', 990, 999],
      ['bytes=0-0', 0, 0],
    ] as const) {
      test(`Range: ${range} answers 206 with Content-Range bytes ${start}-${end}/1000 and exactly those bytes`, async () => {
        const { response, bytes: body } = await fetchBytes(url, { headers: { range } });
        assert.equal(response.status, 206);
        assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/1000`);
        assert.equal(response.headers.get('content-length'), String(end - start + 1));
        assert.equal(response.headers.get('content-type'), 'application/x-test');
        assert.deepEqual(Buffer.from(body), bytes.subarray(start, end + 1));
      });
    }

    test('more than one range answers 416', async () => {
      const response = await fetch(url, { headers: { range: 'bytes=0-9,20-29' } });
      assert.equal(response.status, 416);
      assert.equal(response.headers.get('content-range'), 'bytes */1000');
    });

    test('an unsatisfiable range answers 416 with Content-Range: bytes */size', async () => {
      for (const range of ['bytes=1000-', 'bytes=5000-6000']) {
        const response = await fetch(url, { headers: { range } });
        assert.equal(response.status, 416, range);
        assert.equal(response.headers.get('content-range'), 'bytes */1000', range);
        assert.equal((await response.json()).code, 'RangeNotSatisfiable');
      }
    });

    test('a malformed Range header is ignored: 200 with the whole file', async () => {
      const { response, bytes: body } = await fetchBytes(url, { headers: { range: 'bytes=abc' } });
      assert.equal(response.status, 200);
      assert.equal(body.length, 1000);
    });

    test('a range on an empty file answers 200 with no Content-Range', async () => {
      const response = await fetch(emptyUrl, { headers: { range: 'bytes=0-0' } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-range'), null);
      assert.equal(response.headers.get('content-length'), '0');
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });

    test('a well-formed id with no file answers 404 {"code":"FileNotFound"}', async () => {
      const { storageId } = await storeThroughAction(gateway, Buffer.from('x'));
      await fetch(`${gateway.url}/remove?id=${storageId}`, { method: 'POST' });
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(`${gateway.url}/api/storage/${storageId}`, { method });
        assert.equal(response.status, 404, method);
        if (method === 'GET') assert.equal((await response.json()).code, 'FileNotFound');
      }
    });

    test('other methods answer 405 with Allow', async () => {
      const response = await fetch(url, { method: 'PUT', body: 'x' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'GET, HEAD, OPTIONS');
      assert.equal((await response.json()).code, 'MethodNotAllowed');
    });
  });

  describe('upload URLs', () => {
    test('a forged, truncated or missing token is 401 StorageTokenInvalid and nothing is stored', async () => {
      const real = new URL(await uploadUrl(gateway)).searchParams.get('token')!;
      const [payload, signature] = real.split('.') as [string, string];
      // A later expiry under the old signature, a flipped signature, a token signed with another key.
      const later = Buffer.from(`${Date.now() + 10 * 3600_000}.x`).toString('base64url');
      const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
      const otherKey = mintToken(randomBytes(32), Date.now() + 3600_000);
      const before = await filesOnDisk(dir);
      const rowsBefore = metadataRows(dir).length;
      for (const query of [`token=${later}.${signature}`, `token=${payload}.${flipped}`, `token=${otherKey}`, `token=${payload}`, 'token=', 'token=a.b.c', '']) {
        const response = await fetch(`${gateway.url}/api/storage/upload?${query}`, { method: 'POST', body: 'forged' });
        assert.equal(response.status, 401, query);
        assert.equal((await response.json()).code, 'StorageTokenInvalid', query);
      }
      assert.deepEqual(await filesOnDisk(dir), before);
      assert.equal(metadataRows(dir).length, rowsBefore);
    });

    test('a refused upload is not read: the gateway answers 401 and closes the connection instead of draining the body', async () => {
      const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
      await new Promise((resolve) => socket.once('connect', resolve));
      let answer = '';
      socket.setEncoding('latin1').on('data', (chunk) => (answer += chunk));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.on('error', () => {});
      socket.write(`POST /api/storage/upload?token=forged HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 * 1024 * 1024 * 1024}\r\n\r\n`);
      // The client keeps sending, as a big upload would.
      const piece = randomBytes(64 * 1024);
      const pump = setInterval(() => socket.destroyed || socket.write(piece), 20);
      const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('still open'), 8_000))]);
      clearInterval(pump);
      socket.destroy();
      assert.match(answer, /^HTTP\/1\.1 401 /);
      assert.match(answer, /"code":"StorageTokenInvalid"/);
      assert.equal(outcome, 'closed');
    });

    test('a token past its expiry is 401 StorageTokenExpired; the same token with a future expiry works', async () => {
      const secret = uploadSecret(dir);
      const fresh = await upload(`${gateway.url}/api/storage/upload?token=${mintToken(secret, Date.now() + 60_000)}`, Buffer.from('fresh'));
      assert.equal(fresh.response.status, 200, JSON.stringify(fresh.body));
      const expired = await upload(`${gateway.url}/api/storage/upload?token=${mintToken(secret, Date.now() - 1000)}`, Buffer.from('late'));
      assert.equal(expired.response.status, 401);
      assert.equal(expired.body.code, 'StorageTokenExpired');
    });

    test('tokens of generateUploadUrl() expire after one hour', async () => {
      const token = new URL(await uploadUrl(gateway)).searchParams.get('token')!;
      const expiry = Number(Buffer.from(token.split('.')[0]!, 'base64url').toString().split('.')[0]);
      assert.ok(Math.abs(expiry - (Date.now() + 3600_000)) < 60_000, `expiry ${new Date(expiry).toISOString()}`);
    });

    test('a matching Digest header is accepted', async () => {
      const bytes = randomBytes(100_000);
      const { response, body } = await upload(await uploadUrl(gateway), bytes, { digest: `sha-256=${sha256B64(bytes)}` });
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal((await fetch(`${gateway.url}/api/storage/${body.storageId}`)).headers.get('digest'), `sha-256=${sha256B64(bytes)}`);
    });

    test('a Digest that does not match is 400 Sha256Mismatch and nothing is stored: no file, no temporary file, no metadata', async () => {
      const before = await filesOnDisk(dir);
      const rowsBefore = metadataRows(dir).length;
      const bytes = randomBytes(2 * 1024 * 1024);
      const { response, body } = await upload(await uploadUrl(gateway), bytes, { digest: `sha-256=${sha256B64(Buffer.from('something else'))}` });
      assert.equal(response.status, 400);
      assert.equal(body.code, 'Sha256Mismatch');
      assert.deepEqual(await filesOnDisk(dir), before);
      assert.equal(metadataRows(dir).length, rowsBefore);
    });

    test('a Digest header without sha-256 is 400 BadRequest', async () => {
      const { response, body } = await upload(await uploadUrl(gateway), Buffer.from('x'), { digest: 'md5=abc' });
      assert.equal(response.status, 400);
      assert.equal(body.code, 'BadRequest');
    });

    test('the body limit applies: 413 PayloadTooLarge for a declared and for a chunked body over it, nothing stored', async () => {
      const before = await filesOnDisk(dir);
      const rowsBefore = metadataRows(dir).length;
      // Over raw sockets, and with nothing left unread when the gateway
      // answers: a connection closed with bytes unread is reset, and the
      // reset can destroy the answer before the client reads it.
      const target = (url: string) => new URL(url).pathname + new URL(url).search;
      const declared = await rawRequest(gateway.port, `POST ${target(await uploadUrl(gateway))} HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
      assert.equal(declared.status, 413);
      assert.equal(JSON.parse(declared.body).code, 'PayloadTooLarge');

      // Without Content-Length the gateway only finds out while reading: the
      // limit in 1 MiB chunks, then one byte more.
      const piece = randomBytes(1024 * 1024);
      const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
      const uploadUrlNow = await uploadUrl(gateway);
      const chunked = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
        let answer = '';
        socket.setEncoding('latin1').on('data', (data) => (answer += data));
        socket.on('error', () => {});
        socket.on('close', () => (answer ? resolve(answer) : reject(new Error('closed without an answer'))));
        socket.once('connect', async () => {
          socket.write(`POST ${target(uploadUrlNow)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
          for (let i = 0; i < LIMIT / piece.length; i++) socket.write(chunk);
          await new Promise((done) => setTimeout(done, 500));
          socket.write('1\r\nX\r\n');
        });
      });
      assert.match(chunked, /^HTTP\/1\.1 413 /);
      assert.match(chunked, /"code":"PayloadTooLarge"/);
      assert.deepEqual(await filesOnDisk(dir), before);
      assert.equal(metadataRows(dir).length, rowsBefore);

      // Exactly at the limit is fine.
      const atLimit = await upload(await uploadUrl(gateway), randomBytes(LIMIT));
      assert.equal(atLimit.response.status, 200);
    });

    test('a browser may upload from another origin: the preflight and the POST carry CORS headers', async () => {
      const url = await uploadUrl(gateway);
      const origin = 'https://app.example.com';
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, digest' } });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /digest/i);
      const bytes = randomBytes(1000);
      const uploaded = await fetch(url, { method: 'POST', headers: { origin, 'content-type': 'image/gif', digest: `sha-256=${sha256B64(bytes)}` }, body: bytes });
      assert.equal(uploaded.status, 200);
      assert.equal(uploaded.headers.get('access-control-allow-origin'), origin);
      const refused = await fetch(`${gateway.url}/api/storage/upload?token=forged`, { method: 'POST', headers: { origin }, body: bytes });
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get('access-control-allow-origin'), origin, 'a refusal is readable by the page too');
    });

    test('GET on the upload endpoint is 405', async () => {
      const response = await fetch(await uploadUrl(gateway));
      assert.equal(response.status, 405);
      assert.equal((await response.json()).code, 'MethodNotAllowed');
    });
  });

  describe('hostile ids never reach outside the storage folder', () => {
    const secretText = 'THE-SECRET-OUTSIDE-STORAGE';
    let noteId: string;
    before(async () => {
      // Files an escaping path could reach: beside the storage folder and at the project root.
      await writeFile(path.join(dir, '.data', 'secret.txt'), secretText);
      await writeFile(path.join(dir, 'secret.txt'), secretText);
      const response = await fetch(`${gateway.url}/api/mutation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path: 'files:addNote', args: { text: 'not a file' }, format: 'json' }),
      });
      noteId = (await response.json()).value;
      assert.match(noteId, /^[0-9a-z]{26,40}$/);
    });

    const raw = async (target: string) => {
      const answer = await rawRequest(gateway.port, `GET /api/storage/${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 10_000);
      return { status: answer.status, body: answer.body, code: answer.headers['content-type']?.includes('json') ? JSON.parse(answer.body).code : null };
    };

    const hostile: [string, number, string][] = [
      ['..', 400, 'InvalidStoragePath'],
      ['../secret.txt', 400, 'InvalidStoragePath'],
      ['../../secret.txt', 400, 'InvalidStoragePath'],
      ['..%2fsecret.txt', 400, 'InvalidStoragePath'],
      ['..%2F..%2Fsecret.txt', 400, 'InvalidStoragePath'],
      ['%2e%2e', 400, 'InvalidStoragePath'],
      ['%2e%2e%2f%2e%2e%2fsecret.txt', 400, 'InvalidStoragePath'],
      ['%2E%2E%5C%2E%2E%5Csecret.txt', 400, 'InvalidStoragePath'],
      ['..\\..\\secret.txt', 400, 'InvalidStoragePath'],
      ['%00', 400, 'InvalidStoragePath'],
      ['secret.txt%00', 400, 'InvalidStoragePath'],
      ['%252e%252e%252fsecret.txt', 400, 'InvalidStoragePath'],
      ['%', 400, 'InvalidStoragePath'],
      ['%zz', 400, 'InvalidStoragePath'],
      ['%c0%ae%c0%ae', 400, 'InvalidStoragePath'],
      ['garbage', 400, 'InvalidStoragePath'],
      ['!!!', 400, 'InvalidStoragePath'],
      ['', 400, 'InvalidStoragePath'],
      ['/etc/passwd', 400, 'InvalidStoragePath'],
      ['%ff%fe', 400, 'InvalidStoragePath'],
      ['..;/secret.txt', 400, 'InvalidStoragePath'],
      ['a'.repeat(8000), 400, 'InvalidStoragePath'],
      ['0'.repeat(32), 400, 'InvalidStoragePath'],
      // A raw NUL, and a request line over the header limit, are refused by the HTTP parser.
      ['a\u0000b', 400, 'BadRequest'],
      ['a'.repeat(20_000), 431, 'HeadersTooLarge'],
    ];
    for (const [target, status, code] of hostile) {
      const shown = target.length > 40 ? `${target.slice(0, 12)}... (${target.length} chars)` : JSON.stringify(target).slice(1, -1);
      test(`GET /api/storage/${shown} is ${status} ${code}`, async () => {
        const answer = await raw(target);
        assert.equal(answer.status, status, answer.body.slice(0, 300));
        assert.equal(answer.code, code);
        assert.ok(!answer.body.includes(secretText));
      });
    }

    test('a valid id of another table is 400 InvalidStoragePath, and ctx.storage treats it as no file', async () => {
      const answer = await raw(noteId);
      assert.equal(answer.status, 400);
      assert.equal(answer.code, 'InvalidStoragePath');
      assert.deepEqual(await json(await fetch(`${gateway.url}/lookup?id=${noteId}`)), { url: null, metadata: null });
      assert.equal((await fetch(`${gateway.url}/download?id=${noteId}`)).status, 404);
    });

    test('a storage id with something around it is 400: a trailing slash, a suffix, upper case, a path after it', async () => {
      const { storageId } = await storeThroughAction(gateway, Buffer.from('real'));
      for (const target of [`${storageId}/`, `${storageId}x`, storageId.toUpperCase(), `${storageId}/..`, `${storageId}%2f..%2f..%2fsecret.txt`, `${storageId}%00`]) {
        const answer = await raw(target);
        assert.equal(answer.status, 400, target);
        assert.equal(answer.code, 'InvalidStoragePath', target);
      }
      assert.equal((await raw(storageId)).status, 200);
    });

    test('ctx.storage given hostile ids finds nothing and reads nothing', async () => {
      for (const id of ['../secret.txt', '../../secret.txt', '..', '/etc/passwd', 'x\u0000y', 'a'.repeat(10_000)]) {
        const lookup = await json(await fetch(`${gateway.url}/lookup?id=${encodeURIComponent(id)}`));
        assert.deepEqual(lookup, { url: null, metadata: null }, id);
        const download = await fetch(`${gateway.url}/download?id=${encodeURIComponent(id)}`);
        assert.equal(download.status, 404, id);
        assert.ok(!(await download.text()).includes(secretText));
        const removed = await json(await fetch(`${gateway.url}/remove?id=${encodeURIComponent(id)}`, { method: 'POST' }));
        assert.ok(typeof removed.error === 'string' && removed.error.endsWith('not found'), `${id}: ${JSON.stringify(removed)}`);
      }
      assert.equal(await readFile(path.join(dir, 'secret.txt'), 'utf8'), secretText, 'delete() must not have removed anything outside');
      assert.equal(await readFile(path.join(dir, '.data', 'secret.txt'), 'utf8'), secretText);
    });

    test('DELETE /api/storage/<id> needs the admin key; with it, hostile ids are 400 and a real one is deleted', async () => {
      const { storageId } = await storeThroughAction(gateway, Buffer.from('admin deletes me'));
      const anonymous = await fetch(`${gateway.url}/api/storage/${storageId}`, { method: 'DELETE' });
      assert.equal(anonymous.status, 401);
      assert.equal((await anonymous.json()).code, 'BadAdminKey');
      const admin = { authorization: `Convex ${ADMIN_KEY}` };
      for (const target of ['..%2f..%2fsecret.txt', '%2e%2e', '..', 'garbage', '%00']) {
        // Raw, because fetch would resolve the dot segments itself.
        const answer = await rawRequest(gateway.port, `DELETE /api/storage/${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Convex ${ADMIN_KEY}\r\nConnection: close\r\n\r\n`);
        assert.equal(answer.status, 400, target);
        assert.equal(JSON.parse(answer.body).code, 'InvalidStoragePath', target);
      }
      const deleted = await fetch(`${gateway.url}/api/storage/${storageId}`, { method: 'DELETE', headers: admin });
      assert.equal(deleted.status, 200);
      assert.equal((await fetch(`${gateway.url}/api/storage/${storageId}`)).status, 404);
      assert.equal(await readFile(path.join(dir, 'secret.txt'), 'utf8'), secretText);
    });
  });
});

describe('a 200 MiB file', () => {
  test('is uploaded and served as a stream: the gateway never holds it in memory', { timeout: 300_000 }, async () => {
    const dir = await project(routesYaml(fileRoutes, `limits: { body: 300mb, timeout: 120s }`));
    const gateway = await start(dir);
    const SIZE = 200 * 1024 * 1024;
    const url = await uploadUrl(gateway);
    const peakBefore = await peakMemory(gateway);

    // Streamed up in 1 MiB pieces, hashed on the way.
    const sent = createHash('sha256');
    const storageId = await new Promise<string>((resolve, reject) => {
      const request = http.request(url, { method: 'POST', headers: { 'content-length': String(SIZE), 'content-type': 'application/octet-stream' } }, (response) => {
        let text = '';
        response.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        response.on('end', () => (response.statusCode === 200 ? resolve(JSON.parse(text).storageId) : reject(new Error(`${response.statusCode} ${text}`))));
      });
      request.on('error', reject);
      let written = 0;
      const writeMore = () => {
        while (written < SIZE) {
          const piece = randomBytes(1024 * 1024);
          sent.update(piece);
          written += piece.length;
          if (!request.write(piece)) return void request.once('drain', writeMore);
        }
        request.end();
      };
      writeMore();
    });
    const expected = sent.digest('hex');

    const received = createHash('sha256');
    let length = 0;
    const response = await fetch(`${gateway.url}/api/storage/${storageId}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), String(SIZE));
    for await (const chunk of response.body as any as AsyncIterable<Uint8Array>) {
      received.update(chunk);
      length += chunk.byteLength;
    }
    assert.equal(length, SIZE);
    assert.equal(received.digest('hex'), expected);

    // A range near the end, read straight from the middle of the file.
    const tail = await fetchBytes(`${gateway.url}/api/storage/${storageId}`, { headers: { range: `bytes=${SIZE - 5}-` } });
    assert.equal(tail.response.status, 206);
    assert.equal(tail.bytes.length, 5);

    // Holding the file would add at least 200 MiB to the peak.
    const peak = await peakMemory(gateway);
    const MiB = 1024 * 1024;
    assert.ok(peak - peakBefore < 100 * MiB, `peak resident memory grew by ${Math.round((peak - peakBefore) / MiB)} MiB (to ${Math.round(peak / MiB)} MiB) for a 200 MiB file`);
    assert.ok(peak < SIZE, `peak resident memory ${Math.round(peak / MiB)} MiB`);
    await gateway.stop();
    await removeProject(dir);
  });
});

describe('crash safety of uploads', () => {
  test('a gateway killed in the middle of an upload leaves no metadata for it, and the orphan sweep clears what it left', { timeout: 180_000 }, async () => {
    const dir = await project(routesYaml(fileRoutes, settings));
    let gateway = await start(dir);
    const kept = await storeThroughAction(gateway, randomBytes(5000));
    // A file whose metadata never committed (a crash between the rename and the insert).
    const orphan = await storeThroughAction(gateway, randomBytes(5000));
    const url = await uploadUrl(gateway);
    const rowsBefore = metadataRows(dir).length;

    // A slow upload: 1 MiB of a declared 4 MiB, then nothing.
    const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
    // The gateway is killed under it: its reset is expected, not a failure.
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    const target = new URL(url);
    socket.write(`POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
    socket.write(randomBytes(1024 * 1024));
    const incoming = path.join(dir, '.data', 'storage', '.incoming');
    const deadline = Date.now() + 30_000;
    let partial: string | undefined;
    while (Date.now() < deadline) {
      const names = await readdir(incoming).catch(() => [] as string[]);
      if (names.length === 1 && (await stat(path.join(incoming, names[0]!))).size >= 1024 * 1024) {
        partial = path.join(incoming, names[0]!);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(partial, 'the upload is being written to a temporary file');
    await gateway.stop('SIGKILL');
    socket.destroy();

    // No metadata for the interrupted upload; every row points at a complete file.
    const rows = metadataRows(dir);
    assert.equal(rows.length, rowsBefore);
    for (const row of rows) {
      const bytes = await readFile(path.join(dir, '.data', 'storage', row.id.slice(-2), row.id));
      assert.equal(bytes.length, row.size, row.id);
      assert.equal(createHash('sha256').update(bytes).digest('base64'), row.sha256, row.id);
    }

    // Make the leftovers old enough to sweep; a young temporary file must survive.
    const db = new Database(path.join(dir, '.data', 'db.sqlite'));
    db.prepare('DELETE FROM "t__storage" WHERE id = ?').run(orphan.storageId);
    db.close();
    const orphanFile = path.join(dir, '.data', 'storage', orphan.storageId.slice(-2), orphan.storageId);
    const keptFile = path.join(dir, '.data', 'storage', kept.storageId.slice(-2), kept.storageId);
    const young = path.join(incoming, 'young.tmp');
    await writeFile(young, 'in progress');
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const file of [partial!, orphanFile, keptFile]) await utimes(file, old, old);

    gateway = await start(dir);
    const line = await gateway.waitForLog((l) => l.msg === 'removed orphan storage files', 20_000);
    assert.equal(line.removed, 2);
    assert.ok(!existsSync(partial!), 'the partial upload was swept');
    assert.ok(!existsSync(orphanFile), 'the file without metadata was swept');
    assert.ok(existsSync(young), 'a recent temporary file is left alone');
    assert.ok(existsSync(keptFile), 'a file with metadata is kept, however old');
    const served = await fetchBytes(`${gateway.url}/api/storage/${kept.storageId}`);
    assert.equal(served.response.status, 200);
    assert.equal(sha256Hex(served.bytes), kept.metadata.sha256);
    await gateway.stop();
  });
});

describe('storage.kind: database on PostgreSQL', () => {
  /** A project whose documents and file bytes both live in `database`. */
  const databaseStorageProject = (database: string) =>
    project(`version: 1
functions: ./functions
backend: { kind: local, database: "${database}" }
storage: { kind: database }
${settings}
routes:
${fileRoutes}`);

  const chunkCount = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const chunks = await client.query('SELECT count(*)::int AS n FROM _portico_file_chunks');
      const files = await client.query(`SELECT count(*)::int AS n FROM "t__storage"`);
      return { chunks: chunks.rows[0].n as number, files: files.rows[0].n as number };
    } finally {
      await client.end();
    }
  };

  test('files stored through either path stream back identical, in whole and in ranges; delete removes the bytes', { timeout: 180_000 }, async (t: TestContext) => {
    const database = await freshDatabase(t);
    if (!database) return;
    const dir = await databaseStorageProject(database);
    const gateway = await start(dir);

    const viaAction = randomBytes(3 * 1024 * 1024 + 5);
    const stored = await storeThroughAction(gateway, viaAction, 'image/jpeg');
    assert.deepEqual(stored.metadata, { storageId: stored.storageId, sha256: sha256Hex(viaAction), size: viaAction.length, contentType: 'image/jpeg' });
    const viaUrl = randomBytes(2 * 1024 * 1024 + 9);
    const uploaded = await upload(await uploadUrl(gateway), viaUrl, { 'content-type': 'video/mp4', digest: `sha-256=${sha256B64(viaUrl)}` });
    assert.equal(uploaded.response.status, 200, JSON.stringify(uploaded.body));

    for (const [id, bytes, type] of [[stored.storageId, viaAction, 'image/jpeg'], [uploaded.body.storageId, viaUrl, 'video/mp4']] as const) {
      const served = await fetchBytes(`${gateway.url}/api/storage/${id}`);
      assert.equal(served.response.status, 200);
      assert.equal(served.response.headers.get('content-type'), type);
      assert.equal(served.response.headers.get('content-length'), String(bytes.length));
      assert.equal(served.response.headers.get('etag'), `"${sha256Hex(bytes)}"`);
      assert.equal(sha256Hex(served.bytes), sha256Hex(bytes));
      const action = await fetchBytes(`${gateway.url}/download?id=${id}`);
      assert.equal(sha256Hex(action.bytes), sha256Hex(bytes));
      // Ranges inside one chunk, across a chunk boundary (256 KiB), and at the end.
      for (const [start, end] of [[20, 29], [262_140, 262_150], [bytes.length - 10, bytes.length - 1]] as const) {
        const part = await fetchBytes(`${gateway.url}/api/storage/${id}`, { headers: { range: `bytes=${start}-${end}` } });
        assert.equal(part.response.status, 206);
        assert.equal(part.response.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`);
        assert.deepEqual(Buffer.from(part.bytes), bytes.subarray(start, end + 1));
      }
    }

    // A Digest mismatch leaves no chunks and no metadata behind.
    const before = await chunkCount(database);
    const mismatch = await upload(await uploadUrl(gateway), randomBytes(1024 * 1024), { digest: `sha-256=${sha256B64(Buffer.from('no'))}` });
    assert.equal(mismatch.response.status, 400);
    assert.equal(mismatch.body.code, 'Sha256Mismatch');
    assert.deepEqual(await chunkCount(database), before);

    // Every kind of function has its storage methods here too.
    const probe = await json(await fetch(`${gateway.url}/api/mutation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'files:probeMutation', args: { readId: stored.storageId, deleteId: uploaded.body.storageId }, format: 'json' }),
    }));
    assert.equal(probe.status, 'success', JSON.stringify(probe));
    for (const method of ['getUrl', 'getMetadata', 'generateUploadUrl', 'store', 'get', 'delete']) assert.equal(probe.value[method].ok, true, `${method}: ${JSON.stringify(probe.value[method])}`);

    const afterDelete = await fetch(`${gateway.url}/api/storage/${uploaded.body.storageId}`);
    assert.equal(afterDelete.status, 404);
    assert.equal((await afterDelete.json()).code, 'FileNotFound');
    const counts = await chunkCount(database);
    assert.equal(counts.files, before.files, 'one file stored by the probe, one deleted');
    const client = new pg.Client({ connectionString: database });
    await client.connect();
    const left = await client.query('SELECT count(*)::int AS n FROM _portico_file_chunks WHERE storage_id = $1', [uploaded.body.storageId]);
    await client.end();
    assert.equal(left.rows[0].n, 0, 'the deleted file has no chunks left');
    await gateway.stop();
  });
  test('a gateway killed in the middle of an upload leaves chunks but no metadata; the orphan sweep deletes the chunks', { timeout: 180_000 }, async (t: TestContext) => {
    const database = await freshDatabase(t);
    if (!database) return;
    const dir = await databaseStorageProject(database);
    let gateway = await start(dir);
    const kept = await storeThroughAction(gateway, randomBytes(300_000));
    const url = new URL(await uploadUrl(gateway));
    const client = new pg.Client({ connectionString: database });
    client.on('error', () => {});
    await client.connect();
    const orphanIds = async () =>
      (await client.query(`SELECT DISTINCT storage_id FROM _portico_file_chunks c WHERE NOT EXISTS (SELECT 1 FROM "t__storage" s WHERE s.id = c.storage_id)`)).rows.map((row) => row.storage_id as string);

    const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
    // The gateway is killed under it: its reset is expected, not a failure.
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: x\r\nContent-Length: ${4 * 1024 * 1024}\r\n\r\n`);
    socket.write(randomBytes(1024 * 1024));
    const deadline = Date.now() + 30_000;
    while ((await orphanIds()).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await orphanIds()).length, 1, 'the upload is writing chunks');
    await gateway.stop('SIGKILL');
    socket.destroy();

    // Every metadata row describes complete bytes.
    const rows = await client.query(`SELECT s.id, s.doc, (SELECT sha256(string_agg(bytes, ''::bytea ORDER BY seq)) FROM _portico_file_chunks c WHERE c.storage_id = s.id) AS digest,
      (SELECT coalesce(sum(length(bytes)), 0)::int FROM _portico_file_chunks c WHERE c.storage_id = s.id) AS size FROM "t__storage" s`);
    assert.equal(rows.rows.length, 1);
    for (const row of rows.rows) {
      const doc = typeof row.doc === 'string' ? JSON.parse(row.doc) : row.doc;
      assert.equal(row.size, doc.size);
      assert.equal((row.digest as Buffer).toString('base64'), doc.sha256);
    }

    await client.query(`UPDATE _portico_file_chunks SET written_at = now() - interval '2 hours'`);
    gateway = await start(dir);
    const sweepDeadline = Date.now() + 20_000;
    while ((await orphanIds()).length > 0 && Date.now() < sweepDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(await orphanIds(), [], 'the sweep deleted the chunks of the interrupted upload');
    const served = await fetchBytes(`${gateway.url}/api/storage/${kept.storageId}`);
    assert.equal(sha256Hex(served.bytes), kept.metadata.sha256, 'a complete file is kept, however old');
    await gateway.stop();
    await client.end();
  });
});

describe("the example app's image upload", () => {
  test('POST /sendImage from another origin (after its preflight) stores the image, records a message, and the message list links to it', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const files: Record<string, string> = { 'routes.yaml': await readFile(path.join(ROOT, 'routes.yaml'), 'utf8') };
    for (const name of await readdir(path.join(ROOT, 'functions'))) files[`functions/${name}`] = await readFile(path.join(ROOT, 'functions', name), 'utf8');
    const dir = await makeProject(files);
    dirs.push(dir);
    const origin = 'http://localhost:5173';
    const gateway = await startGateway(dir, { port, timeoutMs: 60_000, env: { CLIENT_ORIGIN: origin, DATABASE: './.data/portico.sqlite' } });
    // Without server.publicUrl, storage URLs start with the address it listens on.
    const publicUrl = gateway.url;
    gateways.push(gateway);

    const preflight = await fetch(`${gateway.url}/sendImage`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, digest' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/i);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /digest/i);

    const image = randomBytes(2 * 1024 * 1024);
    const sent = await fetch(`${gateway.url}/sendImage?author=ada`, { method: 'POST', headers: { origin, 'content-type': 'image/png' }, body: image });
    assert.equal(sent.status, 200);
    assert.equal(sent.headers.get('access-control-allow-origin'), origin);
    const { storageId, url } = await sent.json();
    assert.equal(url, `${publicUrl}/api/storage/${storageId}`);

    const served = await fetchBytes(`${gateway.url}/api/storage/${storageId}`);
    assert.equal(served.response.status, 200);
    assert.equal(served.response.headers.get('content-type'), 'image/png');
    assert.equal(sha256Hex(served.bytes), sha256Hex(image));

    const messages = await json(await fetch(`${gateway.url}/getMessagesByAuthor?author=ada`));
    assert.equal(messages.length, 1);
    assert.equal(messages[0].format, 'image');
    assert.equal(messages[0].body, storageId);
    assert.equal(messages[0].url, url);

    const noAuthor = await fetch(`${gateway.url}/sendImage`, { method: 'POST', body: image });
    assert.equal(noAuthor.status, 400);
    assert.equal((await noAuthor.json()).code, 'MissingAuthor');
    await gateway.stop();
  });
});

