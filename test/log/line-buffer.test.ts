import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { closeSync, openSync, readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mock, test } from 'node:test';
import { LineBuffer, remainder } from '../../src/log/line-buffer.js';
import { ROOT } from '../helpers/project.js';

// The destination every JSON log line goes through: bytes exact and in
// order (multi-byte characters, lines larger than a chunk), partial writes
// resumed, and bounded memory when nobody reads stdout.

test('lines come out byte-exact and in order: ASCII, multi-byte, and a line larger than a chunk', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-lines-'));
  const file = path.join(dir, 'out.log');
  const fd = openSync(file, 'w');
  try {
    const buffer = new LineBuffer(fd);
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(`{"n":${i},"path":"/café/${'é'.repeat(i % 7)}","emoji":"😀"}\n`);
    lines.splice(2500, 0, `{"big":"${'x'.repeat(200_000)}"}\n`);
    for (const line of lines) buffer.write(line);
    await new Promise<void>((resolve) => buffer.flush(resolve));
    assert.equal(readFileSync(file, 'utf8'), lines.join(''));
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
});

test('a partial write resumes exactly where it stopped, across buffer boundaries', () => {
  const a = Buffer.from('abc');
  const b = Buffer.from('defg');
  assert.deepEqual(remainder([a, b], 0).map(String), ['abc', 'defg']);
  assert.deepEqual(remainder([a, b], 2).map(String), ['c', 'defg']);
  assert.deepEqual(remainder([a, b], 3).map(String), ['defg']);
  assert.deepEqual(remainder([a, b], 5).map(String), ['fg']);
  assert.deepEqual(remainder([a, b], 7), []);
});

test('when stdout is not read, memory stays bounded: lines are dropped, and the count is reported once writing resumes', async () => {
  // A child writes 8 MiB of lines into a pipe nobody reads for a while,
  // with a 1 MiB cap on what it may hold.
  const script = `
    import { LineBuffer } from ${JSON.stringify(path.join(ROOT, 'src/log/line-buffer.ts'))};
    const buffer = new LineBuffer(1, 1024 * 1024);
    const line = JSON.stringify({ filler: 'x'.repeat(1000) }) + '\\n';
    for (let i = 0; i < 8 * 1024; i++) buffer.write(line);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    buffer.write('{"last":true}\\n');
    buffer.flush(() => process.exit(0));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.pause();
  await new Promise((resolve) => setTimeout(resolve, 800));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
  child.stdout.resume();
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  const lines = out.trimEnd().split('\n');
  for (const line of lines) JSON.parse(line); // every line intact
  const notice = lines.map((line) => JSON.parse(line)).find((entry) => typeof entry.msg === 'string' && /log lines were dropped/.test(entry.msg));
  assert.ok(notice, 'the dropped lines are reported');
  assert.ok(lines.length < 8 * 1024, `some lines were dropped (${lines.length} arrived)`);
  assert.deepEqual(JSON.parse(lines[lines.length - 1]!), { last: true }, 'writing resumed after the reader came back');
});

// Left to the kernel, lines written to a file are written back in 30-second
// bursts that hold up the database's own syncs on the same disk (see
// line-buffer.ts); a file is synced as the log grows, a pipe or device never.
test('a log written to a regular file is synced after every MiB; one written to a device is not', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-lines-'));
  const synced: number[] = [];
  let syncing: Promise<void> = Promise.resolve();
  const original = fs.fdatasync;
  mock.method(fs, 'fdatasync', (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
    synced.push(fd);
    syncing = new Promise((resolve) =>
      original(fd, (error) => {
        callback(error);
        resolve();
      }),
    );
  });
  syncBuiltinESMExports();
  const file = openSync(path.join(dir, 'out.log'), 'w');
  const device = openSync('/dev/null', 'w');
  try {
    // 1 KiB lines, 4 MiB in all, flushed 256 KiB at a time as a busy
    // process would; each sync is let finish before the next flush, so
    // none is skipped for one still in flight.
    const line = `{"msg":"${'x'.repeat(1024 - 11)}"}\n`;
    assert.equal(Buffer.byteLength(line), 1024);
    for (const fd of [file, device]) {
      const buffer = new LineBuffer(fd);
      for (let i = 0; i < 4096; i++) {
        buffer.write(line);
        if (i % 256 === 255) {
          await new Promise<void>((resolve) => buffer.flush(resolve));
          await syncing;
        }
      }
    }
    assert.equal(synced.filter((fd) => fd === file).length, 4, 'one sync per MiB written to the file');
    assert.equal(synced.filter((fd) => fd === device).length, 0, 'a device is never synced');
  } finally {
    mock.restoreAll();
    syncBuiltinESMExports();
    closeSync(file);
    closeSync(device);
    await rm(dir, { recursive: true, force: true });
  }
});
