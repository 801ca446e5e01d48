#!/usr/bin/env node
// The cost of the traffic policies, measured the way bench/run.mjs measures
// everything (wrk pinned to one core, the server to the other, rounds
// rotated, fresh processes every round), each route beside the same handler
// without the policy, in the same process:
//   GET hello with an in-memory rate limit / GET hello         (target ≥ 0.90)
//   POST echo with a body schema / POST echo                   (target ≥ 0.90)
//   GET hello with a Redis rate limit / GET hello              (reported)
//   GET hello behind one no-op Koa middleware / GET hello      (reported)
// Writes bench/RESULTS-policies.md.
//   node bench/policies.mjs [--rounds 3] [--seconds 5]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureWrk, postScript, wrk } from './lib/load.mjs';
import { describeMachine } from './lib/machine.mjs';
import { startServer } from './lib/servers.mjs';
import { cpuSeconds } from './lib/cpu.mjs';
import { fmt, median, spread } from './lib/stats.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const WORK = path.join(HERE, '.work', 'policies');
const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
const ORIGIN = { Origin: 'http://localhost:5173' };
const ECHO_BODY = JSON.stringify({ author: 'bench', body: 'x'.repeat(120), tags: ['a', 'b', 'c'], nested: { ok: true, n: 42 } }).padEnd(200, ' ');

const { values: options } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' } } });
const ROUNDS = Number(options.rounds);
const SECONDS = Number(options.seconds);
const WARMUP = 2;

async function main() {
  ensureWrk();
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const echo = postScript(WORK, 'echo', ECHO_BODY);
  const items = [
    { name: 'hello', url: '/hello', headers: ORIGIN },
    { name: 'hello-rate-memory', url: '/limited/hello', headers: ORIGIN, reference: 'hello', label: 'GET hello, in-memory rate limit', target: 0.9 },
    { name: 'hello-rate-redis', url: '/redis/hello', headers: ORIGIN, reference: 'hello', label: 'GET hello, Redis rate limit (127.0.0.1)' },
    { name: 'hello-koa-noop', url: '/koa/hello', headers: ORIGIN, reference: 'hello', label: 'GET hello behind one no-op Koa middleware' },
    { name: 'echo', url: '/echo', script: echo },
    { name: 'echo-schema', url: '/schema/echo', script: echo, reference: 'echo', label: 'POST 200-byte JSON echo with a body schema', target: 0.9 },
  ];
  const samples = new Map(items.map((item) => [item.name, []]));
  const loads = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const server = await startServer([BIN, 'serve', '-c', path.join(HERE, 'app', 'policies.yaml'), '--port', '4410'], { logFile: path.join(WORK, 'portico.log') });
    try {
      const order = [...items];
      const shift = (round - 1) % order.length;
      order.push(...order.splice(0, shift));
      if (round % 2 === 0) order.reverse();
      for (const item of order) {
        const url = server.url + item.url;
        await wrk(url, { seconds: WARMUP, script: item.script, headers: item.headers });
        loads.push(os.loadavg()[0]);
        const cpuBefore = cpuSeconds(server.pid);
        const result = await wrk(url, { seconds: SECONDS, script: item.script, headers: item.headers });
        // The server's CPU per request: a figure a busy machine moves far less than requests per second.
        result.cpu = (cpuSeconds(server.pid) - cpuBefore) / result.requests;
        samples.get(item.name).push(result);
        console.log(`round ${round}/${ROUNDS}  ${item.name.padEnd(18)} ${fmt.rps(result.rps).padStart(8)} req/s  p99 ${fmt.ms(result.p99)}  ${(result.cpu * 1e6).toFixed(1)} µs CPU/req  load ${os.loadavg()[0].toFixed(1)}${result.non2xx || result.socketErrors ? `  (${result.non2xx} non-2xx, ${result.socketErrors} socket errors)` : ''}`);
      }
    } finally {
      await server.stop();
    }
  }

  const machine = describeMachine();
  const lines = [
    '# Policy cost',
    '',
    `Written by \`node bench/policies.mjs --rounds ${ROUNDS} --seconds ${SECONDS}\` on ${new Date().toISOString()}.`,
    '',
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.kernel}; Node.js ${machine.node}; ${machine.wrk}`,
    `- method: ${machine.pinning}; wrk -t1 -c50, ${WARMUP} s warm-up then ${SECONDS} s measured, ${ROUNDS} rounds (order rotated every round, reversed every other), a fresh server process every round; every route is measured beside the same handler without the policy, in the same process; a ratio is the median of each round's pair`,
    `- load average (1 min) while measuring: median ${median(loads).toFixed(1)}, max ${Math.max(...loads).toFixed(1)}, on ${os.cpus().length} cores`,
    '',
    'The CPU columns are the server process\'s user + system CPU time per request (from /proc), median of the rounds: on a loaded machine they say more than requests per second. The CPU ratio is the route without the policy / the route with it (1.00: free; 0.90: the policy costs about 10% more CPU per request).',
    '',
    '| scenario | req/s (median) | spread | p99 | req/s ratio to the same route without it | CPU µs/request | CPU ratio | target (either ratio) | |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const item of items) {
    const rows = samples.get(item.name);
    const rps = median(rows.map((r) => r.rps));
    const failures = rows.reduce((n, r) => n + r.non2xx + r.socketErrors, 0);
    if (!item.reference) {
      lines.push(`| ${item.name === 'hello' ? 'GET hello (no policy)' : 'POST 200-byte JSON echo (no policy)'} | ${fmt.rps(rps)} | ${fmt.pct(spread(rows.map((r) => r.rps)))} | ${fmt.ms(median(rows.map((r) => r.p99)))} | 1.00 | ${(median(rows.map((r) => r.cpu)) * 1e6).toFixed(1)} | 1.00 | | ${failures ? `⚠ ${failures} failed` : ''} |`);
      continue;
    }
    const base = samples.get(item.reference);
    const ratio = median(rows.map((row, i) => row.rps / base[i].rps));
    const target = item.target === undefined ? '' : `≥ ${item.target.toFixed(2)}`;
    const cpuRatio = median(rows.map((row, i) => base[i].cpu / row.cpu));
    const verdict = item.target === undefined ? '' : `req/s ${ratio >= item.target ? 'met' : 'missed'}, CPU ${cpuRatio >= item.target ? 'met' : 'missed'}`;
    lines.push(`| ${item.label} | ${fmt.rps(rps)} | ${fmt.pct(spread(rows.map((r) => r.rps)))} | ${fmt.ms(median(rows.map((r) => r.p99)))} | ${fmt.ratio(ratio)} | ${(median(rows.map((r) => r.cpu)) * 1e6).toFixed(1)} | ${fmt.ratio(cpuRatio)} | ${target} | ${verdict}${failures ? ` ⚠ ${failures} failed` : ''} |`);
  }
  lines.push('');
  const report = lines.join('\n');
  writeFileSync(path.join(HERE, 'RESULTS-policies.md'), report);
  console.log(`\n${report}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
