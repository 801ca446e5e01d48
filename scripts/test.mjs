#!/usr/bin/env node
// The one test command (`npm test`). It builds the gateway (tests drive the
// real `portico` binary over sockets), type-checks everything, makes sure the browser the CORS tests
// need is present, reports which real services are reachable, then runs every
// test file with node:test. `npm test -- test/http` runs a subset.
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function run(cmd, args) {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function collect(target) {
  if (!existsSync(target)) {
    console.error(`no such test path: ${target}`);
    process.exit(2);
  }
  if (statSync(target).isFile()) return [target];
  return readdirSync(target, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return entry.name === 'fixtures' || entry.name === '.work' ? [] : collect(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

function reachable(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

function ensureChromium() {
  if (existsSync('/usr/bin/chromium')) return;
  if (process.getuid?.() !== 0) {
    console.warn('!! /usr/bin/chromium is missing and this is not root: the browser CORS tests will SKIP');
    return;
  }
  console.log('installing Debian chromium for the browser tests (apt-get)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) {
      console.warn(`!! apt-get ${args[0]} failed: the browser CORS tests will SKIP`);
      return;
    }
  }
}

run('npx', ['tsc', '-p', 'tsconfig.build.json']);
// The tests, the benchmarks and the example app's functions, against the public types.
run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
ensureChromium();

const postgres = await reachable(5432);
if (!postgres) {
  console.warn('!! PostgreSQL is not reachable on 127.0.0.1:5432: every PostgreSQL test will SKIP');
}

if (!(await reachable(6379))) {
  console.warn('!! Redis is not reachable on 127.0.0.1:6379: the Redis rate limit tests will SKIP');
}

const targets = process.argv.slice(2);
const files = (targets.length ? targets : ['test']).flatMap(collect);
// Two files at a time: most tests start gateway processes of their own, and
// this machine class has two cores.
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000'];
try {
  execFileSync(process.execPath, [...args, ...files], { stdio: 'inherit', env: { ...process.env, PORTICO_TEST: '1' } });
} catch (error) {
  process.exit(error.status ?? 1);
}
