import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { makeProject, removeProject } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// The disk fills, as in SQLite's own tests: the project's data folder
// (SQLite database and file storage) is a 4 MiB tmpfs, filled to the last
// byte by a file the test writes. Then uploads must fail with 507
// InsufficientStorage and leave no partial file, mutations must fail with a
// clear error (and not wedge the write lane), nothing acknowledged before
// may be lost or corrupted (PRAGMA integrity_check), and once the filler is
// removed the same server takes writes again, without a restart.
//
// Mounting needs root (CI runs as root); without it the test skips loudly,
// and PORTICO_REQUIRE_MOUNT=1 turns that into a failure.

const ADMIN_KEY = 'disk-full-admin-key-0123456789';

const FUNCTIONS = {
  'functions/notes.ts': `
import { httpAction, mutation, query, v } from 'portico';
export const add = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
// Far more than SQLite's page cache holds.
export const addMany = mutation({
  args: { prefix: v.string(), count: v.number(), size: v.number() },
  handler: async (ctx, { prefix, count, size }) => {
    for (let i = 0; i < count; i++) await ctx.db.insert('notes', { text: prefix + i + ' ' + 'y'.repeat(size) });
  },
});
// Swallows the failure and writes on, as careless code would.
export const addSwallowing = mutation({
  args: { prefix: v.string() },
  handler: async (ctx, { prefix }) => {
    try {
      for (let i = 0; i < 200; i++) await ctx.db.insert('notes', { text: prefix + i + ' ' + 'z'.repeat(100 * 1024) });
    } catch {}
    return ctx.db.insert('notes', { text: prefix + 'after the failure' });
  },
});
export const all = query(async (ctx) => (await ctx.db.query('notes').collect()).map((note) => ({ id: note._id, sha: note.text.length + ':' + note.text.slice(0, 16) })));
export const store = httpAction(async (ctx, request) => Response.json({ id: await ctx.storage.store(await request.blob()) }));
`,
};

const ROUTES = `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
api: { adminKey: ${ADMIN_KEY} }
routes:
  - { path: /store, method: POST, handler: "notes:store" }
`;

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Mounts a tmpfs of `size` on `dir`; false (after saying so loudly) when the system refuses. */
function mountTmpfs(t: TestContext, dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return true;
  } catch (error) {
    const message = `cannot mount a tmpfs on ${dir} (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}): SKIPPING "${t.name}"`;
    if (process.env.PORTICO_REQUIRE_MOUNT === '1') throw new Error(`${message} (PORTICO_REQUIRE_MOUNT=1 makes this a failure)`);
    console.warn(`\n!! ${message}\n`);
    t.skip(message);
    return false;
  }
}

/** Writes `file` until the filesystem has no byte left. */
async function fillDisk(file: string): Promise<number> {
  const handle = await open(file, 'w');
  const block = Buffer.alloc(64 * 1024, 7);
  let written = 0;
  try {
    for (let size = block.length; size >= 1; ) {
      try {
        written += (await handle.write(block, 0, size)).bytesWritten;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    await handle.close();
  }
  return written;
}

describe('a full disk under SQLite and file storage', () => {
  let dir: string;
  let data: string;
  let mounted = false;
  let gateway: RunningGateway | undefined;

  before(async () => {
    dir = await makeProject({ 'routes.yaml': ROUTES, ...FUNCTIONS });
    data = path.join(dir, '.data');
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    if (mounted) execFileSync('umount', ['-l', data]);
    await removeProject(dir);
  });

  const call = async (kind: 'query' | 'mutation', name: string, args: Record<string, unknown>) => {
    const response = await fetch(`${gateway!.url}/api/${kind}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: name, args, format: 'json' }),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: response.status, body: (await response.json()) as { status?: string; value?: any; errorMessage?: string; code?: string; message?: string } };
  };
  /** A mutation refused for the full disk: 507 InsufficientStorage, saying so. */
  const assertDiskFull = (answer: Awaited<ReturnType<typeof call>>) => {
    assert.equal(answer.status, 507, JSON.stringify(answer.body).slice(0, 300));
    assert.equal(answer.body.code, 'InsufficientStorage');
    assert.match(answer.body.message!, /disk is full/i);
  };
  const upload = async (bytes: Uint8Array) => {
    const response = await fetch(`${gateway!.url}/api/storage/upload`, {
      method: 'POST',
      body: bytes as Uint8Array<ArrayBuffer>,
      headers: { authorization: `Convex ${ADMIN_KEY}`, 'content-type': 'application/octet-stream' },
      signal: AbortSignal.timeout(20_000),
    });
    return { status: response.status, body: (await response.json()) as { storageId?: string; code?: string; message?: string } };
  };
  const download = async (id: string) => new Uint8Array(await (await fetch(`${gateway!.url}/api/storage/${id}`)).arrayBuffer());
  /** Files in the storage folder, temporary ones included. */
  const storedFiles = () => {
    const found: string[] = [];
    const root = path.join(data, 'storage');
    for (const shard of readdirSync(root)) for (const name of readdirSync(path.join(root, shard))) found.push(`${shard}/${name}`);
    return found.sort();
  };
  const integrity = () => {
    const db = new Database(path.join(data, 'db.sqlite'), { readonly: true });
    try {
      return db.pragma('integrity_check', { simple: true });
    } finally {
      db.close();
    }
  };

  test('writes fail clearly, nothing acknowledged is lost, and the server recovers once space is freed', { timeout: 180_000 }, async (t) => {
    if (!(mounted = mountTmpfs(t, data, '4m'))) return;
    gateway = await startGateway(dir, { timeoutMs: 60_000 });

    // Acknowledged before the disk fills.
    const notes = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const text = `note ${i} ${randomBytes(8).toString('hex')}`;
      const { body } = await call('mutation', 'notes:add', { text });
      assert.equal(body.status, 'success', JSON.stringify(body));
      notes.set(body.value, text);
    }
    const files = new Map<string, string>();
    for (let i = 0; i < 3; i++) {
      const bytes = randomBytes(200 * 1024);
      const { status, body } = await upload(bytes);
      assert.equal(status, 200, JSON.stringify(body));
      files.set(body.storageId!, sha(bytes));
    }

    const filler = path.join(data, 'filler');
    const filled = await fillDisk(filler);
    t.diagnostic(`filled the last ${filled} bytes`);

    // An upload: 507 InsufficientStorage, and nothing of it on disk.
    const before = storedFiles();
    const refused = await upload(randomBytes(300 * 1024));
    assert.equal(refused.status, 507, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'InsufficientStorage');
    assert.deepEqual(storedFiles(), before, 'a partial file stayed behind');

    // ctx.storage.store in an HTTP action: the function's error says why.
    const viaAction = await fetch(`${gateway.url}/store`, { method: 'POST', body: randomBytes(300 * 1024), signal: AbortSignal.timeout(20_000) });
    assert.equal(viaAction.status, 500);
    assert.match((await viaAction.json()).code, /Uncaught Error: .*(disk|storage) is full/i);
    assert.deepEqual(storedFiles(), before, 'a partial file stayed behind');

    // Mutations: each one either commits (and must then survive) or fails
    // with a clear error; they fail before long, and none hangs.
    let failure: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 40 && failure === undefined; i++) {
      const text = `big ${i} ${'x'.repeat(100 * 1024)}`;
      const answer = await call('mutation', 'notes:add', { text });
      if (answer.body.status === 'success') notes.set(answer.body.value, text);
      else failure = answer;
    }
    assert.ok(failure, 'a mutation failed on the full disk');
    t.diagnostic(`${notes.size - 20} large mutations committed on the full disk before one failed with: ${failure.body.message}`);
    assertDiskFull(failure);
    // The write lane is not wedged: the next mutation gets its answer too.
    assertDiskFull(await call('mutation', 'notes:add', { text: 'x'.repeat(200 * 1024) }));

    // A mutation writing more than SQLite's page cache holds fails as a
    // whole; one that swallows that failure and writes on is not committed
    // in part; mutations sharing a commit with it are acknowledged only if
    // their writes are there.
    assertDiskFull(await call('mutation', 'notes:addMany', { prefix: 'many ', count: 40, size: 100 * 1024 }));
    const together = await Promise.all([
      call('mutation', 'notes:addSwallowing', { prefix: 'swallowed ' }),
      ...Array.from({ length: 6 }, (_, i) => call('mutation', 'notes:add', { text: `beside ${i}` })),
    ]);
    const swallowing = together[0]!;
    if (swallowing.body.status === 'success') notes.set(swallowing.body.value, 'swallowed after the failure');
    else assertDiskFull(swallowing);
    together.slice(1).forEach((answer, i) => {
      if (answer.body.status === 'success') notes.set(answer.body.value, `beside ${i}`);
      else assertDiskFull(answer);
    });
    assert.equal((await fetch(`${gateway.url}/_portico/health`)).status, 200, 'the server is still up');

    // Reads still work, and see everything acknowledged.
    const listed = await call('query', 'notes:all', {});
    assert.equal(listed.body.status, 'success', JSON.stringify(listed.body));
    const expectNotes = (rows: { id: string; sha: string }[]) => {
      const seen = new Map(rows.map((row) => [row.id, row.sha]));
      for (const [id, text] of notes) assert.equal(seen.get(id), `${text.length}:${text.slice(0, 16)}`, `note ${id} lost`);
      assert.equal(rows.length, notes.size, 'a note that was refused is in the database');
    };
    expectNotes(listed.body.value);
    for (const [id, digest] of files) assert.equal(sha(await download(id)), digest, `file ${id} damaged`);
    assert.equal(integrity(), 'ok');

    // Space comes back: the same process takes writes again.
    await rm(filler);
    const stored = randomBytes(300 * 1024);
    const accepted = await upload(stored);
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(sha(await download(accepted.body.storageId!)), sha(stored));
    const text = 'after the disk was freed';
    const { body } = await call('mutation', 'notes:add', { text });
    assert.equal(body.status, 'success', JSON.stringify(body));
    notes.set(body.value, text);
    expectNotes((await call('query', 'notes:all', {})).body.value);
    for (const [id, digest] of files) assert.equal(sha(await download(id)), digest, `file ${id} damaged`);
    await gateway.stop();
    gateway = undefined;
    assert.equal(integrity(), 'ok');
  });
});
