import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { blobOf } from '../../src/http/spooled-blob.js';
import { ROOT } from '../helpers/project.js';

// request.blob() without holding the body twice: small bodies stay in
// memory, large ones become a Blob backed by a temporary file that lives as
// long as the Blob.

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
