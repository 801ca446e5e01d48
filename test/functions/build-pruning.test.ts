import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { nextBuildDir, pruneOldBuilds } from '../../src/functions/build-pruning.js';

// Build folders are deleted once no load can use them: this process's builds
// before the previous one, and builds of processes that are gone.

async function withBuildRoot(run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'portico-builds-'));
  try {
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function build(root: string): Promise<string> {
  const dir = nextBuildDir(root);
  await mkdir(dir, { recursive: true });
  return path.basename(dir);
}

test('build folders name this process and never repeat', () => {
  const a = path.basename(nextBuildDir('/x'));
  const b = path.basename(nextBuildDir('/x'));
  assert.notEqual(a, b);
  assert.equal(a.split('-')[1], String(process.pid));
});

test('pruning keeps the current and the previous build of this process and deletes older ones', async () => {
  await withBuildRoot(async (root) => {
    const first = await build(root);
    await pruneOldBuilds(root, first);
    const second = await build(root);
    await pruneOldBuilds(root, second);
    assert.deepEqual((await readdir(root)).sort(), [first, second].sort());
    const third = await build(root);
    await pruneOldBuilds(root, third);
    assert.deepEqual((await readdir(root)).sort(), [second, third].sort());
  });
});

test("pruning deletes a gone process's builds and leaves a running one's", async () => {
  await withBuildRoot(async (root) => {
    // Pid 1 always runs; no process has a pid this large (Linux's limit is 2^22).
    const running = 'lzz0000-1-1';
    const gone = `lzz0000-${2 ** 30}-1`;
    const unnamed = 'not-a-build';
    for (const name of [running, gone, unnamed]) await mkdir(path.join(root, name));
    const current = await build(root);
    await pruneOldBuilds(root, current);
    assert.deepEqual((await readdir(root)).sort(), [current, running].sort());
  });
});

test('pruning a build root that does not exist does nothing', async () => {
  await pruneOldBuilds(path.join(os.tmpdir(), 'portico-no-such-build-root', String(process.pid)), 'x');
});
