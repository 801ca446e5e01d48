import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { blobOf } from '../../src/http/spooled-blob.js';
import { startGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';

// request.blob() without holding the body twice: small bodies stay in
// memory, large ones become a Blob backed by a temporary file that lives as
// long as its request (or, made outside a request, as long as the Blob).

const spoolDir = path.join(os.tmpdir(), `portico-bodies-${process.pid}`);
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function streamOf(bytes: Buffer, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, (offset += chunk)));
    },
  });
}

test('a small body stays in memory: same bytes, same type, no temporary file', async () => {
  const bytes = randomBytes(300 * 1024);
  const before = existsSync(spoolDir) ? readdirSync(spoolDir).length : 0;
  const blob = await blobOf(streamOf(bytes), 'image/png');
  assert.equal(blob.type, 'image/png');
  assert.equal(sha(new Uint8Array(await blob.arrayBuffer())), sha(bytes));
  assert.equal(existsSync(spoolDir) ? readdirSync(spoolDir).length : 0, before);
});

test('a large body becomes a file-backed Blob with the same bytes and type', async () => {
  const bytes = randomBytes(5 * 1024 * 1024 + 7);
  const blob = await blobOf(streamOf(bytes), 'application/octet-stream');
  assert.equal(blob.size, bytes.length);
  assert.equal(blob.type, 'application/octet-stream');
  assert.equal(sha(new Uint8Array(await blob.arrayBuffer())), sha(bytes));
  assert.ok(readdirSync(spoolDir).length >= 1, 'the body was written to a temporary file');
  // Read again, and in parts: the file is still there while the Blob lives.
  assert.equal(sha(new Uint8Array(await blob.slice(100, 200).arrayBuffer())), sha(bytes.subarray(100, 200)));
});

test('the temporary file goes away with its Blob (garbage collection), and the folder at exit', () => {
  const script = `
    import { readdirSync, existsSync } from 'node:fs';
    import os from 'node:os';
    import path from 'node:path';
    import { blobOf } from ${JSON.stringify(path.join(ROOT, 'src/http/spooled-blob.ts'))};
    const dir = path.join(os.tmpdir(), 'portico-bodies-' + process.pid);
    const big = new Uint8Array(3 * 1024 * 1024);
    let blob = await blobOf(new ReadableStream({ start(c) { c.enqueue(big); c.close(); } }), '');
    const during = readdirSync(dir).length;
    blob = null;
    for (let i = 0; i < 20 && readdirSync(dir).length > 0; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
    const after = readdirSync(dir).length;
    process.on('exit', () => { if (existsSync(dir)) process.stdout.write(' left-behind'); });
    process.stdout.write(during + ' ' + after);
  `;
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), '1 0');
});

// Regression: spooled bodies were only deleted when the garbage collector
// finalized their Blob, so a server taking uploads kept them on disk for as
// long as the heap did not need collecting (every upload, in practice).
test('a spooled request body is deleted when its request ends: after 100 large uploads no spool file remains', { timeout: 120_000 }, async () => {
  const dir = await makeProject({
    'routes.yaml': routesYaml(`
  - { path: /size, method: POST, handler: "bodies:size" }
  - { path: /keep, method: POST, handler: "bodies:keep" }
  - { path: /echo, method: POST, handler: "bodies:echo" }
`, 'limits: { body: 8mb }'),
    'functions/bodies.ts': `
import { httpAction } from 'portico';
export const size = httpAction(async (_ctx, request) => Response.json({ size: (await request.blob()).size }));
// Stores the body, then reads it back: the spool file is there for the whole request.
export const keep = httpAction(async (ctx, request) => {
  const blob = await request.blob();
  const id = await ctx.storage.store(blob);
  return Response.json({ id, sha256: (await ctx.storage.getMetadata(id))!.sha256, again: (await blob.arrayBuffer()).byteLength });
});
export const echo = httpAction(async (_ctx, request) => new Response(await request.blob()));
`,
  });
  const gateway = await startGateway(dir);
  try {
    const spool = path.join(os.tmpdir(), `portico-bodies-${gateway.child.pid}`);
    const spooled = () => (existsSync(spool) ? readdirSync(spool).length : 0);
    const settled = async () => {
      for (let i = 0; i < 40 && spooled() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      return spooled();
    };

    const bytes = randomBytes(1536 * 1024);
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${gateway.url}/size`, { method: 'POST', body: bytes });
      assert.deepEqual(await response.json(), { size: bytes.length });
      // Well before the garbage collector would have finalized the Blob.
      assert.equal(await settled(), 0, `upload ${i + 1} left its spool file behind`);
    }
    assert.ok(existsSync(spool), 'the bodies were spooled to disk at all');

    // The file serves the whole request: stored, read again, echoed back.
    const kept = await (await fetch(`${gateway.url}/keep`, { method: 'POST', body: bytes })).json();
    assert.equal(kept.sha256, sha(bytes));
    assert.equal(kept.again, bytes.length);
    const echoed = new Uint8Array(await (await fetch(`${gateway.url}/echo`, { method: 'POST', body: bytes })).arrayBuffer());
    assert.equal(sha(echoed), sha(bytes));

    // A client that goes away mid-upload leaves nothing either.
    const aborted = new AbortController();
    const half = fetch(`${gateway.url}/size`, {
      method: 'POST',
      duplex: 'half',
      signal: aborted.signal,
      body: new ReadableStream({
        // One chunk, then the client goes away. Once aborted the stream ends
        // too: a pull loop left running would keep this test process alive.
        async pull(controller) {
          if (aborted.signal.aborted) return controller.close();
          controller.enqueue(bytes);
          await new Promise((resolve) => setTimeout(resolve, 200));
          aborted.abort();
        },
      }),
    } as RequestInit).catch(() => null);
    await half;
    assert.equal(await settled(), 0);
  } finally {
    await gateway.stop();
    await removeProject(dir);
  }
});
