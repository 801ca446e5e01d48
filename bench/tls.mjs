#!/usr/bin/env node
// The cost of TLS and HTTP/2, measured like bench/run.mjs (load generator
// pinned to one core, servers to the other, rounds rotated, fresh processes
// every round), with h2load (Debian's nghttp2-client), a load tool that
// speaks both protocols:
//   GET hello over HTTP/1.1 + TLS: Portico / bare node:https
//   GET hello over HTTP/2 + TLS:   Portico / bare node:http2 secure server
// Writes bench/RESULTS-tls.md.
//   node bench/tls.mjs [--rounds 3] [--seconds 5]
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuOf, describeMachine } from './lib/machine.mjs';
import { fmt, median, spread } from './lib/stats.mjs';
import { spawn } from 'node:child_process';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const WORK = path.join(HERE, '.work', 'tls');
const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
const ORIGIN = 'origin: http://localhost:5173';

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } } });
const ROUNDS = Number(options.rounds);
const SECONDS = Number(options.seconds);
const WARMUP = 2;

/** h2load, installed from Debian when missing; null (and a loud line) when it cannot be. */
function ensureH2load() {
  try {
    execFileSync('h2load', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {}
  if (process.getuid?.() === 0) {
    console.log('installing h2load (apt-get install nghttp2-client)...');
    try {
      execFileSync('apt-get', ['update'], { stdio: 'ignore' });
      execFileSync('apt-get', ['install', '-y', 'nghttp2-client'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      return true;
    } catch {}
  }
  console.warn('\n!! h2load is not installed (apt-get install nghttp2-client): SKIPPING the TLS scenarios\n');
  return false;
}

function start(args, logFile) {
  const core = cpuOf('server');
  const argv = core === null ? args : ['-c', String(core), process.execPath, ...args];
  const child = spawn(core === null ? process.execPath : 'taskset', core === null ? args : argv, { env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', logFile ? 'ignore' : 'ignore', 'pipe'] });
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start: ${args.join(' ')}\n${seen}`)), 60_000);
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      if (/listening on https:\/\//.test(seen)) {
        clearTimeout(timer);
        resolve({ stop: () => new Promise((done) => (child.exitCode !== null ? done() : (child.once('exit', done), child.kill('SIGTERM')))) });
      }
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before listening: ${args.join(' ')}\n${seen}`)));
  });
}

/** One h2load run: requests per second, and failures. */
function h2load(url, { h1, seconds }) {
  const core = cpuOf('load');
  const args = ['-t1', '-c50', ...(h1 ? ['--h1', '-m1'] : ['-m10']), '-D', String(seconds), '-H', ORIGIN, url];
  const [command, argv] = core === null ? ['h2load', args] : ['taskset', ['-c', String(core), 'h2load', ...args]];
  return new Promise((resolve, reject) => {
    execFile(command, argv, { maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error) return reject(error);
      const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1]);
      const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
      const protocol = /Application protocol: (\S+)/.exec(stdout)?.[1] ?? '?';
      resolve({ rps, succeeded: Number(counts?.[4]), failed: Number(counts?.[5]) + Number(counts?.[6]), protocol });
    });
  });
}

async function main() {
  if (!ensureH2load()) return;
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '7', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: WORK, stdio: 'ignore' });
  const cert = path.join(WORK, 'cert.pem');
  const key = path.join(WORK, 'key.pem');
  writeFileSync(
    path.join(WORK, 'routes.yaml'),
    `version: 1\nfunctions: ${path.join(HERE, 'app', 'functions')}\nbackend: { kind: local, database: ./.data/tls.sqlite }\nstorage: { kind: fs, dir: ./.data/storage }\nserver:\n  tls: { cert: ./cert.pem, key: ./key.pem }\ncors:\n  origins: ["http://localhost:5173"]\n  exposeHeaders: [x-request-id]\nroutes:\n  - { path: /hello, method: GET, handler: "bench:hello" }\n`,
  );
  const servers = {
    portico: { args: [BIN, 'serve', '-c', path.join(WORK, 'routes.yaml'), '--port', '4430'], url: 'https://127.0.0.1:4430/hello' },
    https: { args: [path.join(HERE, 'servers', 'tls-bare.mjs'), 'https', '4431', cert, key], url: 'https://127.0.0.1:4431/hello' },
    http2: { args: [path.join(HERE, 'servers', 'tls-bare.mjs'), 'http2', '4432', cert, key], url: 'https://127.0.0.1:4432/hello' },
  };
  const items = [
    { name: 'portico-h1', server: 'portico', h1: true },
    { name: 'https-h1', server: 'https', h1: true },
    { name: 'portico-h2', server: 'portico', h1: false },
    { name: 'http2-h2', server: 'http2', h1: false },
  ];
  const samples = new Map(items.map((item) => [item.name, []]));
  const loads = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = [...items];
    order.push(...order.splice(0, (round - 1) % order.length));
    if (round % 2 === 0) order.reverse();
    for (const item of order) {
      const { args, url } = servers[item.server];
      const server = await start(args);
      try {
        await h2load(url, { h1: item.h1, seconds: WARMUP });
        const result = await h2load(url, { h1: item.h1, seconds: SECONDS });
        samples.get(item.name).push(result);
        loads.push(os.loadavg()[0]);
        console.log(`round ${round}/${ROUNDS}  ${item.name.padEnd(11)} ${result.protocol.padEnd(9)} ${fmt.rps(result.rps).padStart(8)} req/s  ${result.failed} failed  load ${os.loadavg()[0].toFixed(1)}`);
      } finally {
        await server.stop();
      }
    }
  }
  const rps = (name) => samples.get(name).map((s) => s.rps);
  const ratios = (a, b) => samples.get(a).map((s, i) => s.rps / samples.get(b)[i].rps);
  const machine = describeMachine();
  const row = (label, a, b) => `| ${label} | ${fmt.rps(median(rps(a)))} (${fmt.pct(spread(rps(a)))}) | ${fmt.rps(median(rps(b)))} (${fmt.pct(spread(rps(b)))}) | ${fmt.ratio(median(ratios(a, b)))} |`;
  const failed = [...samples.values()].flat().reduce((sum, s) => sum + s.failed, 0);
  const lines = [
    '# TLS and HTTP/2 cost',
    '',
    `Written by \`node bench/tls.mjs --rounds ${ROUNDS} --seconds ${SECONDS}\` on ${new Date().toISOString()}.`,
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.kernel}. h2load -t1 -c50 (-m10 on HTTP/2), pinned to its own core; servers to the other; a fresh process for every measurement.`,
    '',
    '| GET hello | Portico req/s (spread) | bare node req/s (spread) | Portico / bare |',
    '| --- | --- | --- | --- |',
    row('HTTP/1.1 + TLS (bare: node:https)', 'portico-h1', 'https-h1'),
    row('HTTP/2 + TLS (bare: node:http2 secure server)', 'portico-h2', 'http2-h2'),
    '',
    `Failed or errored requests across all runs: ${failed}. One-minute load average during the runs: ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)} on ${machine.cores} cores; with spreads like these, rerun on a quiet machine before reading more than the order of magnitude.`,
    'Portico runs as users run it: `portico serve`, NODE_ENV=production, CORS on (requests carry an allowed Origin), one JSON log line per request; the bare servers do nothing but answer.',
    '',
  ];
  writeFileSync(path.join(HERE, 'RESULTS-tls.md'), lines.join('\n'));
  console.log(lines.join('\n'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
