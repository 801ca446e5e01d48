#!/usr/bin/env node
// The benchmark suite: `npm run bench` (options: --rounds N, --seconds S,
// --only name,name, --profile). It starts every server itself on loopback,
// measures a bare node:http server and Portico in the same run, round after
// round and interleaved, and writes medians, spreads, ratios, p99 latency
// and resident memory to bench/RESULTS.md. See bench/README.md for what each scenario measures.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { observabilityConfigs } from './lib/observability.mjs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureWrk, freshNonceScript, postScript, wrk } from './lib/load.mjs';
import { describeMachine } from './lib/machine.mjs';
import { memoryOf, resetPeak, startServer } from './lib/servers.mjs';
import { fmt, median, spread } from './lib/stats.mjs';
import { cpuSeconds } from './lib/cpu.mjs';
import { collectGarbage } from './lib/inspector.mjs';
import { appCopy, routingProject, startupProject, uploadProject } from './lib/projects.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const WORK = path.join(HERE, '.work');
const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');
const ORIGIN = { Origin: 'http://localhost:5173' };

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
  },
});
const ROUNDS = Number(options.rounds);
const SECONDS = Number(options.seconds);
const WARMUP = 2;
const LEAK_ROUNDS = 10;
/** A scenario whose p99 latency is above this is flagged. */
const P99_LIMIT_MS = 25;
/** The leak check's fitted RSS growth over rounds 2-10 that still counts as no trend. */
const LEAK_TOLERANCE = 2 * 2 ** 20;
const only = options.only ? new Set(options.only.split(',')) : null;
const wanted = (name) => !only || only.has(name);

const ECHO_BODY = JSON.stringify({ author: 'bench', body: 'x'.repeat(120), tags: ['a', 'b', 'c'], nested: { ok: true, n: 42 } }).padEnd(200, ' ');

async function main() {
  ensureWrk();
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  rmSync(path.join(HERE, 'app', '.data'), { recursive: true, force: true });

  const results = { throughput: [], memory: [], routing: [], upload: [], startup: [], leak: null, tls: null };
  const profileFlags = (name) => (options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(WORK, 'profiles', name)}`] : []);
  const reference = (name, port) => startServer([path.join(HERE, 'servers', `${name}.mjs`), String(port)]);

  // Every round gets fresh server processes on the same ports. One process
  // can settle into a steadily slower state than another of the same build
  // (measured here: 33k and 43k req/s on GET hello, identical profiles, the
  // difference in the kernel's wake-ups between server and load generator),
  // so a run that kept one process would report that process, not the build.
  const startServers = async () => {
    const started = {
      bare: await reference('bare', 4400),
      koa: wanted('koa-get-hello') ? await reference('koa', 4401) : null,
      hono: wanted('hono-get-hello') || wanted('hono-post-echo') ? await reference('hono', 4407) : null,
      fastify: wanted('fastify-get-hello') || wanted('fastify-post-echo') ? await reference('fastify', 4408) : null,
      portico: await startServer([BIN, 'serve', '-c', path.join(HERE, 'app', 'routes.yaml'), '--port', '4402'], {
        logFile: path.join(WORK, 'portico.log'),
        nodeFlags: profileFlags('portico'),
      }),
      // The proxy scenario's reference, forwarding to the bare server as the proxy route does.
      proxy: wanted('proxy') ? await startServer([path.join(HERE, 'servers', 'undici-proxy.mjs'), '4403', 'http://127.0.0.1:4400']) : null,
      // The same on undici's dispatch() handler API, as Portico relays: the floor.
      dispatchProxy: wanted('proxy') ? await startServer([path.join(HERE, 'servers', 'undici-dispatch-proxy.mjs'), '4404', 'http://127.0.0.1:4400']) : null,
      // The same build with metrics and the dashboard's log capture on, and off.
      observed: observed ? await startServer([BIN, 'serve', '-c', observed.on, '--port', '4405'], { logFile: path.join(WORK, 'observed.log') }) : null,
      unobserved: observed ? await startServer([BIN, 'serve', '-c', observed.off, '--port', '4406'], { logFile: path.join(WORK, 'unobserved.log') }) : null,
    };
    // Resident memory at idle: started, nothing asked yet.
    await sleep(500);
    for (const [name, server] of Object.entries(started)) {
      if (!server) continue;
      if (!idle.has(name)) idle.set(name, []);
      idle.get(name).push(memoryOf(server.pid).rss);
    }
    await seed(started.portico.url);
    return started;
  };
  const idle = new Map();
  const observed = wanted('observability') ? observabilityConfigs(path.join(HERE, 'app'), WORK) : null;
  let current = await startServers();
  const servers = () => Object.values(current).filter(Boolean);

  try {
    const post = (name, body) => postScript(WORK, name, body);
    const { bare, koa, hono, fastify, portico, proxy, dispatchProxy, observed: on, unobserved: off } = current;
    const scenarios = [
      { name: 'get-hello', label: 'GET hello (HTTP action, CORS + request log)', server: 'portico', url: `${portico.url}/hello`, headers: ORIGIN, reference: 'bare-get', target: 0.6, versus: { name: 'hono-get-hello', target: 1 }, p99Versus: { name: 'bare-get', target: 2 } },
      ...(koa ? [{ name: 'koa-get-hello', label: 'GET hello on bare koa + @koa/router (reference)', server: 'koa', url: `${koa.url}/hello`, reference: 'bare-get' }] : []),
      ...(hono ? [{ name: 'hono-get-hello', label: 'GET hello on hono + @hono/node-server (reference)', server: 'hono', url: `${hono.url}/hello`, reference: 'bare-get' }] : []),
      ...(fastify ? [{ name: 'fastify-get-hello', label: 'GET hello on fastify (reference)', server: 'fastify', url: `${fastify.url}/hello`, reference: 'bare-get' }] : []),
      { name: 'post-echo', label: 'POST 200-byte JSON echo', server: 'portico', url: `${portico.url}/echo`, script: post('echo', ECHO_BODY), reference: 'bare-post', target: 0.5, versus: { name: 'hono-post-echo', target: 1 } },
      ...(hono ? [{ name: 'hono-post-echo', label: 'POST 200-byte JSON echo on hono + @hono/node-server (reference)', server: 'hono', url: `${hono.url}/echo`, script: post('hono-echo', ECHO_BODY), reference: 'bare-post' }] : []),
      ...(fastify ? [{ name: 'fastify-post-echo', label: 'POST 200-byte JSON echo on fastify (reference)', server: 'fastify', url: `${fastify.url}/echo`, script: post('fastify-echo', ECHO_BODY), reference: 'bare-post' }] : []),
      { name: 'query', label: 'query through an HTTP action, a fresh argument every request (one-document index lookup, SQLite)', server: 'portico', url: `${portico.url}/notes/latest-fresh`, headers: ORIGIN, reference: 'bare-get', target: 0.45, atLeast: 'mutation' },
      { name: 'query-cached', label: 'query through an HTTP action, the same arguments every request', server: 'portico', url: `${portico.url}/notes/latest`, headers: ORIGIN, reference: 'bare-get', target: 0.6 },
      { name: 'mutation', label: 'mutation through an HTTP action (SQLite insert, durable)', server: 'portico', url: `${portico.url}/notes`, script: post('note', JSON.stringify({ author: 'bench', body: 'hello from wrk' })), reference: 'bare-get', target: 0.25 },
      { name: 'api-query', label: 'function API: POST /api/query, a fresh argument every request', server: 'portico', url: `${portico.url}/api/query`, script: freshNonceScript(WORK, 'api-query', JSON.stringify({ path: 'bench:latestFor', args: { author: 'bench', nonce: '__NONCE__' }, format: 'json' }).replace('"__NONCE__"', '__NONCE__')), reference: 'bare-post', target: 0.5 },
      { name: 'api-query-cached', label: 'function API: POST /api/query, the same arguments every request', server: 'portico', url: `${portico.url}/api/query`, script: post('api-query-cached', JSON.stringify({ path: 'bench:latestOf', args: { author: 'bench' }, format: 'json' })), reference: 'bare-post' },
      { name: 'api-mutation', label: 'function API: POST /api/mutation', server: 'portico', url: `${portico.url}/api/mutation`, script: post('api-mutation', JSON.stringify({ path: 'bench:addEntry', args: { author: 'api', body: 'x' }, format: 'json' })), reference: 'bare-post' },
      ...(proxy ? [{ name: 'proxy', label: 'GET through a proxy route to a bare node:http upstream (CORS + request log)', server: 'portico', url: `${portico.url}/proxy/hello`, headers: ORIGIN, reference: 'undici-proxy', target: 0.8 }] : []),
      ...(on ? [{ name: 'observability', label: 'GET hello with metrics and the dashboard\'s log capture on', server: 'observed', url: `${on.url}/hello`, headers: ORIGIN, reference: 'hello-unobserved', target: 0.95 }] : []),
    ].filter((scenario) => wanted(scenario.name));
    const references = {
      'bare-get': { server: 'bare', url: `${bare.url}/hello` },
      'bare-post': { server: 'bare', url: `${bare.url}/echo`, script: post('bare-echo', ECHO_BODY) },
      ...(proxy ? { 'undici-proxy': { server: 'proxy', url: `${proxy.url}/proxy/hello`, headers: ORIGIN } } : {}),
      ...(dispatchProxy ? { 'undici-dispatch-proxy': { server: 'dispatchProxy', url: `${dispatchProxy.url}/proxy/hello`, headers: ORIGIN } } : {}),
      ...(off ? { 'hello-unobserved': { server: 'unobserved', url: `${off.url}/hello`, headers: ORIGIN } } : {}),
    };

    if (scenarios.length > 0) {
      const samples = new Map([...Object.keys(references), ...scenarios.map((s) => s.name)].map((name) => [name, []]));
      for (let round = 1; round <= ROUNDS; round++) {
        if (round > 1) {
          for (const server of servers()) await server.stop();
          current = await startServers();
        }
        // Rotate the order each round (and reverse every other one) so drift
        // in the machine (other tenants, thermal) and a scenario's place next
        // to another do not favour one side.
        const order = [...Object.entries(references).map(([name, spec]) => ({ name, ...spec })), ...scenarios];
        rotate(order, round);
        for (const item of order) {
          await wrk(item.url, { seconds: WARMUP, script: item.script, headers: item.headers });
          // CPU per request too (the serving process, user + system): a
          // figure the other tenants of the machine move less than req/s.
          const { pid } = current[item.server];
          const cpuBefore = cpuSeconds(pid);
          const result = await wrk(item.url, { seconds: SECONDS, script: item.script, headers: item.headers });
          result.cpuPerRequest = (cpuSeconds(pid) - cpuBefore) / result.requests;
          // Resident memory of the process that served it, right after.
          result.rss = memoryOf(current[item.server].pid).rss;
          samples.get(item.name).push(result);
          console.log(`round ${round}/${ROUNDS}  ${item.name.padEnd(17)} ${fmt.rps(result.rps).padStart(8)} req/s  p99 ${fmt.ms(result.p99)}  CPU ${(result.cpuPerRequest * 1e6).toFixed(1)} µs/req  RSS ${fmt.mib(result.rss)}${result.non2xx || result.socketErrors ? `  (${result.non2xx} non-2xx, ${result.socketErrors} socket errors)` : ''}`);
        }
      }
      const summary = (name) => {
        const rows = samples.get(name);
        return { rps: median(rows.map((r) => r.rps)), spread: spread(rows.map((r) => r.rps)), p99: median(rows.map((r) => r.p99)), rss: median(rows.map((r) => r.rss)), failures: rows.reduce((n, r) => n + r.non2xx + r.socketErrors, 0), empty: rows.filter((r) => !(r.requests > 0)).length };
      };
      // The ratio of each round's pair, then their median: pairs measured
      // minutes apart are not compared with each other.
      const pairRatio = (name, other, field = 'rps') => {
        const own = samples.get(name);
        const base = samples.get(other);
        if (!own || !base) return NaN;
        return median(own.map((row, i) => row[field] / base[i][field]));
      };
      const referenceLabels = { 'bare-get': 'bare node:http GET hello', 'bare-post': 'bare node:http POST 200-byte JSON echo', 'undici-proxy': 'bare node:http reverse proxy on undici, to the bare server', 'undici-dispatch-proxy': 'the same reverse proxy on undici dispatch() (reference, not a target)', 'hello-unobserved': 'GET hello with metrics and the dashboard turned off (same build)' };
      for (const [name, spec] of Object.entries(references)) results.throughput.push({ name, label: referenceLabels[name], server: spec.server, ...summary(name), ratio: 1, reference: name });
      for (const scenario of scenarios) {
        const own = samples.get(scenario.name);
        const base = samples.get(scenario.reference);
        const ratios = own.map((row, i) => row.rps / base[i].rps);
        const row = { ...scenario, ...summary(scenario.name), ratio: median(ratios), ratioSpread: spread(ratios) };
        if (scenario.versus) row.versusRatio = pairRatio(scenario.name, scenario.versus.name);
        if (scenario.p99Versus) row.p99Ratio = pairRatio(scenario.name, scenario.p99Versus.name, 'p99');
        if (scenario.atLeast) row.atLeastRatio = samples.has(scenario.atLeast) ? median(samples.get(scenario.atLeast).map((r, i) => r.rps / base[i].rps)) : NaN;
        results.throughput.push(row);
        if (scenario.name === 'proxy') {
          const cpu = (rows) => median(rows.map((r) => r.cpuPerRequest));
          results.proxyCpu = { portico: cpu(own), undici: cpu(base), ratio: median(own.map((row, i) => base[i].cpuPerRequest / row.cpuPerRequest)) };
          const floor = samples.get('undici-dispatch-proxy');
          if (floor) results.proxyCpu.dispatch = { cpu: cpu(floor), ratio: pairRatio('proxy', 'undici-dispatch-proxy') };
        }
      }
      // Portico against the other frameworks, pair by pair as above.
      results.frameworks = [
        ['GET hello', 'get-hello', 'hono-get-hello', 'hono'],
        ['GET hello', 'get-hello', 'fastify-get-hello', 'fastify'],
        ['GET hello', 'get-hello', 'koa-get-hello', 'koa'],
        ['POST echo', 'post-echo', 'hono-post-echo', 'hono'],
        ['POST echo', 'post-echo', 'fastify-post-echo', 'fastify'],
      ].map(([what, own, other, framework]) => ({ what, framework, ratio: pairRatio(own, other) })).filter((row) => Number.isFinite(row.ratio));
      // The same jobs in CPU per request: each one's median, and each other server's over Portico's, pair by pair.
      results.cpu = [
        ['GET hello', 'get-hello', [['hono', 'hono-get-hello'], ['fastify', 'fastify-get-hello'], ['bare node:http', 'bare-get']]],
        ['POST echo', 'post-echo', [['hono', 'hono-post-echo'], ['fastify', 'fastify-post-echo'], ['bare node:http', 'bare-post']]],
      ]
        .filter(([, own]) => samples.get(own)?.length > 0)
        .map(([what, own, others]) => ({
          what,
          portico: median(samples.get(own).map((r) => r.cpuPerRequest)),
          others: others
            .filter(([, name]) => samples.get(name)?.length > 0)
            .map(([server, name]) => ({ server, cpu: median(samples.get(name).map((r) => r.cpuPerRequest)), ratio: pairRatio(name, own, 'cpuPerRequest') })),
        }));
      // Resident memory: each process at idle, then after each scenario it served.
      for (const [name, values] of idle) {
        results.memory.push({ process: name, when: 'idle (started, before any request)', rss: median(values) });
        for (const row of results.throughput.filter((r) => r.server === name)) results.memory.push({ process: name, when: `after ${row.label}`, rss: row.rss });
      }
    }

    if (wanted('leak')) results.leak = await measureLeak();
    if (wanted('routing')) results.routing = await measureRouting(references['bare-get'].url, profileFlags);
    if (wanted('upload')) results.upload = await measureUpload(current.bare);
  } finally {
    for (const server of servers()) await server.stop();
  }
  if (wanted('startup')) results.startup = await measureStartup();
  if (wanted('tls')) results.tls = measureTls();

  const report = render(results);
  writeFileSync(path.join(HERE, 'RESULTS.md'), report);
  console.log(`\n${report}`);
  console.log(`written to ${path.relative(process.cwd(), path.join(HERE, 'RESULTS.md'))}`);
}

/**
 * Inserts the one document the query scenarios read (author 'bench'; a
 * second call finds it and inserts nothing) and checks that both query
 * routes answer it.
 */
async function seed(url) {
  const status = await request(`${url}/api/mutation`, 'POST', JSON.stringify({ path: 'bench:seed', args: { author: 'bench' }, format: 'json' }));
  if (status !== 200) throw new Error(`seeding answered ${status}`);
  for (const route of ['/notes/latest', '/notes/latest-fresh']) {
    const answer = JSON.parse(await get(`${url}${route}`));
    if (answer?.author !== 'bench') throw new Error(`${route} answered ${JSON.stringify(answer)}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The leak check: ten consecutive rounds of the mutation scenario against
 * ONE Portico process (with its own database), its resident memory read
 * after each: right after the round, then after a full garbage collection
 * (asked for through the inspector, with the V8 heap in use after it). A
 * leak shows as memory still climbing after the first round, which holds
 * the warm-up of the JIT, the heap and SQLite's page cache; the figures after
 * a full GC tell memory still held from garbage V8 had not yet collected.
 */
async function measureLeak() {
  const config = appCopy(path.join(HERE, 'app'), WORK, 'leak');
  const inspectorPort = 9340;
  const server = await startServer([BIN, 'serve', '-c', config, '--port', '4409'], {
    logFile: path.join(WORK, 'leak.log'),
    nodeFlags: [`--inspect=127.0.0.1:${inspectorPort}`],
  });
  const script = postScript(WORK, 'leak-note', JSON.stringify({ author: 'bench', body: 'hello from wrk' }));
  const rounds = [];
  try {
    await sleep(500);
    const idle = memoryOf(server.pid);
    await wrk(`${server.url}/notes`, { seconds: WARMUP, script });
    for (let round = 1; round <= LEAK_ROUNDS; round++) {
      const result = await wrk(`${server.url}/notes`, { seconds: SECONDS, script });
      const memory = memoryOf(server.pid);
      const heap = await collectGarbage(inspectorPort);
      const collected = memoryOf(server.pid);
      rounds.push({ round, rps: result.rps, requests: result.requests, p99: result.p99, rss: memory.rss, anon: memory.anon, rssAfterGc: collected.rss, heap, failures: result.non2xx + result.socketErrors });
      console.log(`leak round ${round}/${LEAK_ROUNDS}  ${fmt.rps(result.rps).padStart(8)} req/s  RSS ${fmt.mib(memory.rss)} (anonymous ${fmt.mib(memory.anon)}), after a full GC ${fmt.mib(collected.rss)}, V8 heap ${fmt.mib(heap)}`);
    }
    return { idle, rounds, trend: { rss: leakTrend(rounds, 'rss'), rssAfterGc: leakTrend(rounds, 'rssAfterGc'), heap: leakTrend(rounds, 'heap') } };
  } finally {
    await server.stop();
  }
}

/** Growth of `field` from round 2 to the last, and the least-squares slope over those rounds. */
function leakTrend(rounds, field) {
  const tail = rounds.slice(1);
  const xs = tail.map((r) => r.round);
  const ys = tail.map((r) => r[field]);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const slope = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i] - my), 0) / xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
  const requests = tail.slice(1).reduce((n, r) => n + r.requests, 0);
  const growth = ys.at(-1) - ys[0];
  const fitted = slope * (xs.length - 1);
  return { growth, slope, fitted, bytesPerRequest: fitted / requests, share: growth / ys[0] };
}

/** 10, 1,000 and 10,000 routes: the first and the last route of each table. */
async function measureRouting(bareUrl, profileFlags) {
  const sizes = [10, 1000, 10000];
  const dirs = sizes.map((size) => routingProject(WORK, path.join(HERE, 'app', 'functions'), size));
  let servers = [];
  // Fresh processes every round, as for the throughput scenarios.
  const startAll = async () => {
    servers = [];
    for (const [i, size] of sizes.entries()) {
      servers.push({ size, server: await startServer([BIN, 'serve', '-c', path.join(dirs[i], 'routes.yaml'), '--port', String(4410 + i)], { logFile: path.join(WORK, `routing-${size}.log`), nodeFlags: profileFlags(`routing-${size}`) }) });
    }
  };
  const samples = new Map();
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const { server } of servers) await server.stop();
      await startAll();
      const plan = [{ key: 'bare', url: bareUrl }];
      for (const { size, server } of servers) {
        plan.push({ key: `${size}-first`, url: `${server.url}/api/v1/res0` });
        plan.push({ key: `${size}-last`, url: `${server.url}/api/v1/res${size - 1}/12345` });
      }
      // Each round starts one further along the plan (and every other round
      // runs backwards): no table size keeps the same place next to the
      // bare server, which was measured to bias whichever did.
      rotate(plan, round);
      for (const item of plan) {
        await wrk(item.url, { seconds: WARMUP, headers: ORIGIN });
        const result = await wrk(item.url, { seconds: SECONDS, headers: ORIGIN });
        if (!samples.has(item.key)) samples.set(item.key, []);
        samples.get(item.key).push(result);
        console.log(`round ${round}/${ROUNDS}  routes ${item.key.padEnd(11)} ${fmt.rps(result.rps).padStart(8)} req/s${result.non2xx ? `  (${result.non2xx} non-2xx)` : ''}`);
      }
    }
  } finally {
    for (const { server } of servers) await server.stop();
  }
  const bare = samples.get('bare');
  const first10 = samples.get('10-first');
  return [...samples].filter(([key]) => key !== 'bare').map(([key, rows]) => ({
    key,
    rps: median(rows.map((r) => r.rps)),
    spread: spread(rows.map((r) => r.rps)),
    ratio: median(rows.map((r, i) => r.rps / bare[i].rps)),
    // Against the 10-route server of the same round, as the ratios are:
    // rounds minutes apart are not compared with each other.
    vsTen: median(rows.map((r, i) => r.rps / first10[i].rps - 1)),
    failures: rows.reduce((n, r) => n + r.non2xx + r.socketErrors, 0),
  }));
}

/**
 * A 20 MiB upload: time to answer and how much the server's peak RSS grows,
 * on a fresh server, through an HTTP action (`request.blob()` then
 * `ctx.storage.store`, the seed's sendImage) and through an upload URL.
 */
async function measureUpload(bare) {
  const body = randomBytes(20 * 2 ** 20);
  const dir = uploadProject(WORK, path.join(HERE, 'app', 'functions'));
  const portico = await startServer([BIN, 'serve', '-c', path.join(dir, 'routes.yaml'), '--port', '4420'], { logFile: path.join(WORK, 'upload.log') });
  const out = [];
  try {
    const uploadUrl = async () => JSON.parse(await get(`${portico.url}/upload-url`)).url;
    for (const [name, server, url] of [
      ['bare node:http (streamed to /dev/null)', bare, async () => `${bare.url}/upload`],
      ['Portico HTTP action (request.blob() → ctx.storage.store)', portico, async () => `${portico.url}/upload`],
      ['Portico upload URL (POST /api/storage/upload)', portico, uploadUrl],
    ]) {
      const times = [];
      const growth = [];
      for (let i = 0; i < 5; i++) {
        const target = await url();
        await new Promise((resolve) => setTimeout(resolve, 300));
        const before = memoryOf(server.pid).rss;
        const peakReset = resetPeak(server.pid);
        const started = performance.now();
        const status = await request(target, 'POST', body, 'application/octet-stream');
        times.push(performance.now() - started);
        if (status !== 200) throw new Error(`upload to ${target} answered ${status}`);
        const after = memoryOf(server.pid);
        growth.push((peakReset ? after.peak : after.rss) - before);
      }
      out.push({ name, ms: median(times), growth: median(growth), body: body.length });
    }
  } finally {
    await portico.stop();
  }
  return out;
}

function get(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/**
 * Validate, and start to listening, with a 1,000-route config. Start-up is
 * wall time as a user meets it, so it runs on the whole machine; the same
 * start pinned to the one core the throughput servers get is shown beside it.
 */
async function measureStartup() {
  const dir = startupProject(WORK, path.join(HERE, 'app', 'functions'), 1000);
  const config = path.join(dir, 'routes.yaml');
  const validate = [];
  const listen = [];
  const listenPinned = [];
  for (let i = 0; i < 5; i++) {
    let started = performance.now();
    const result = spawnSync(process.execPath, [BIN, 'validate', '-c', config], { encoding: 'utf8' });
    validate.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`validate failed:\n${result.stdout}${result.stderr}`);
    for (const [pin, times] of [[false, listen], [true, listenPinned]]) {
      started = performance.now();
      const server = await startServer([BIN, 'serve', '-c', config, '--port', '0'], { pin });
      times.push(performance.now() - started);
      await server.stop();
    }
  }
  return [
    { name: 'portico validate (1,000 routes)', ms: median(validate), spread: spread(validate) },
    { name: 'portico serve until listening (1,000 routes)', ms: median(listen), spread: spread(listen) },
    { name: 'portico serve until listening, pinned to one core', ms: median(listenPinned), spread: spread(listenPinned) },
  ];
}

function request(url, method, body, type = 'application/json') {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function render(results) {
  const machine = describeMachine();
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.mjs) on ${new Date().toISOString()}.`,
    '',
    `- command: \`npm run bench -- --rounds ${ROUNDS} --seconds ${SECONDS}\`${only ? ` (only: ${[...only].join(', ')})` : ''}`,
    `- machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; ${machine.kernel}; Node.js ${machine.node}; ${machine.wrk}`,
    `- method: ${machine.pinning}; wrk -t1 -c50, ${WARMUP} s warm-up then ${SECONDS} s measured, ${ROUNDS} rounds interleaved (order rotated every round, reversed every other), fresh server processes every round (but for the leak check, which keeps one); medians, spread = (max - min) / median; a ratio is the median of each round's Portico / reference pair`,
    '- Portico runs as users run it: `portico serve` with NODE_ENV=production, CORS on (requests carry an allowed Origin), one JSON log line per request to a file',
    '',
  ];
  if (results.throughput.length > 0) {
    const verdict = (met, target, value) => (!Number.isFinite(value) ? 'n/a' : met ? 'met' : `missed by ${(Math.abs(target - value) / target * 100).toFixed(0)}%`);
    lines.push(
      '## Throughput',
      '',
      `p99 is wrk's latency at 50 connections (median of the rounds); ⚠ marks a p99 above ${P99_LIMIT_MS} ms. The last two columns compare Portico with hono (+ @hono/node-server, no CORS, no logging) on the same job. \`query\` and \`api-query\` send a fresh argument with every request, so no query cache can answer them; the \`-cached\` ones send the same arguments every time (without a query cache they measure the same uncached path). The query scenarios read one document; the mutation scenarios insert into another table.`,
      '',
      '| scenario | req/s (median) | spread | p99 | ratio to bare node:http | target | | Portico / hono | target ≥ 1.00 |',
      '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |',
    );
    for (const row of results.throughput) {
      const target = row.target === undefined ? '' : `≥ ${row.target.toFixed(2)}${row.atLeast ? ` and ≥ ${row.atLeast}` : ''}`;
      let met = row.target === undefined ? '' : verdict(row.ratio >= row.target, row.target, row.ratio);
      if (row.atLeast) {
        const floor = row.atLeastRatio;
        met += Number.isFinite(floor) ? `; ${row.ratio >= floor ? '≥' : 'below'} ${row.atLeast} (${fmt.ratio(floor)})` : `; ${row.atLeast} not measured`;
      }
      const reference = row.reference === 'bare-get' && row.name !== 'bare-get' ? ' (of GET)' : row.reference === 'bare-post' && row.name !== 'bare-post' ? ' (of POST)' : row.reference === 'undici-proxy' && row.name !== 'undici-proxy' ? ' (of the undici proxy)' : row.reference === 'hello-unobserved' && row.name !== 'hello-unobserved' ? ' (of the same build with both off)' : '';
      const slow = row.p99 > P99_LIMIT_MS ? ' ⚠' : '';
      const versus = !row.versus ? ['', ''] : Number.isFinite(row.versusRatio) ? [fmt.ratio(row.versusRatio), verdict(row.versusRatio >= row.versus.target, row.versus.target, row.versusRatio)] : ['n/a', `${row.versus.name} not measured`];
      lines.push(`| ${row.label} | ${fmt.rps(row.rps)} | ${fmt.pct(row.spread)} | ${fmt.ms(row.p99)}${slow} | ${fmt.ratio(row.ratio)}${reference} | ${target} | ${met}${row.failures ? ` ⚠ ${row.failures} failed` : ''}${row.empty ? ` ⚠ ${row.empty} run(s) with no answer` : ''} | ${versus[0]} | ${versus[1]} |`);
    }
    lines.push('');
    if (results.frameworks?.length > 0) {
      lines.push(`Portico (CORS + request log) / the other frameworks (neither), median of each round's pair: ${results.frameworks.map((r) => `${r.what} / ${r.framework} ${fmt.ratio(r.ratio)}`).join(', ')}.`, '');
    }
    for (const { what, portico, others } of results.cpu ?? []) {
      const µs = (seconds) => `${(seconds * 1e6).toFixed(1)} µs`;
      lines.push(`CPU per request, ${what} (the serving process alone, user + system; moved less than req/s by what else the machine does): Portico ${µs(portico)}, ${others.map((o) => `${o.server} ${µs(o.cpu)}`).join(', ')}; their CPU over Portico's (median of the rounds' pairs; above 1, Portico spends less): ${others.map((o) => `${o.server} ${o.ratio.toFixed(2)}`).join(', ')}.`, '');
    }
    const hello = results.throughput.find((r) => r.name === 'get-hello');
    const bareGet = results.throughput.find((r) => r.name === 'bare-get');
    if (hello && Number.isFinite(hello.p99Ratio)) {
      lines.push(`Tail latency, GET hello: p99 ${fmt.ms(hello.p99)} on Portico, ${fmt.ms(bareGet.p99)} on bare node:http; Portico / bare ${hello.p99Ratio.toFixed(2)}× (median of each round's pair), target ≤ ${hello.p99Versus.target}×: ${hello.p99Ratio <= hello.p99Versus.target ? 'met' : 'missed'}.`, '');
    }
    const slow = results.throughput.filter((r) => r.p99 > P99_LIMIT_MS);
    lines.push(`p99 above ${P99_LIMIT_MS} ms: ${slow.length === 0 ? 'none' : slow.map((r) => `${r.name} (${fmt.ms(r.p99)})`).join(', ')}.`, '');
    if (results.proxyCpu) {
      const { portico, undici, ratio } = results.proxyCpu;
      lines.push(`Proxy CPU per request (the proxy process alone, user + system): Portico ${(portico * 1e6).toFixed(1)} µs, the undici reverse proxy ${(undici * 1e6).toFixed(1)} µs; undici / Portico ${ratio.toFixed(2)} (median of the rounds' pairs).`, '');
      const { dispatch } = results.proxyCpu;
      if (dispatch) lines.push(`Against the reverse proxy on undici dispatch() (the API Portico relays with; ${(dispatch.cpu * 1e6).toFixed(1)} µs per request): Portico ${dispatch.ratio.toFixed(2)} of its req/s (median of the rounds' pairs).`, '');
    }
  }
  if (results.memory.length > 0) {
    lines.push(
      '## Resident memory',
      '',
      "VmRSS of each server process (from /proc/PID/status): at idle, 0.5 s after it started listening and before any request, and right after each scenario it served (median of the rounds; a process serves several scenarios, in the round's rotated order, so a figure includes what the ones before it left).",
      '',
      '| process | when | RSS (median) |',
      '| --- | --- | ---: |',
    );
    for (const row of results.memory) lines.push(`| ${row.process} | ${row.when} | ${fmt.mib(row.rss)} |`);
    lines.push('');
  }
  if (results.leak) {
    const { idle, rounds, trend } = results.leak;
    lines.push(
      '## Leak check (`leak`)',
      '',
      `${rounds.length} consecutive rounds of the mutation scenario (POST /notes, one durable insert each; ${SECONDS} s each after one ${WARMUP} s warm-up) against ONE Portico process with its own database. RSS is read right after each round, then again after a full garbage collection asked for through the inspector (the process runs with \`--inspect\`), with the V8 heap in use after it. Idle before the warm-up: ${fmt.mib(idle.rss)}. The p99 here is not the scenario's: from round 2 on, the process has had an inspector session, which alone took the mutation p99 from 7-8 ms to 25-33 ms on this machine (same build, the same rounds with and without the session between them); the \`mutation\` row of the throughput table is the scenario's figure.`,
      '',
      '| round | req/s | p99 | RSS | of which anonymous | RSS after a full GC | V8 heap in use after it |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const row of rounds) lines.push(`| ${row.round} | ${fmt.rps(row.rps)} | ${fmt.ms(row.p99)} | ${fmt.mib(row.rss)} | ${fmt.mib(row.anon)} | ${fmt.mib(row.rssAfterGc)} | ${fmt.mib(row.heap)} |${row.failures ? ` ⚠ ${row.failures} failed` : ''}`);
    const signed = (bytes) => `${bytes >= 0 ? '+' : '-'}${fmt.mib(Math.abs(bytes))}`;
    const describe = (t) => `${signed(t.growth)} (${(t.share * 100).toFixed(1)}%); least-squares trend ${signed(t.slope)} per round, ${signed(t.fitted)} in all, ${t.bytesPerRequest.toFixed(1)} bytes per request`;
    const flat = (t) => t.fitted <= LEAK_TOLERANCE;
    lines.push(
      '',
      `Growth from round 2 to round ${rounds.length}:`,
      '',
      `- RSS: ${describe(trend.rss)}. Target: no growth trend (a fitted growth of at most ${fmt.mib(LEAK_TOLERANCE)}): ${flat(trend.rss) ? 'met' : 'missed'}.`,
      `- RSS after a full GC: ${describe(trend.rssAfterGc)}: ${flat(trend.rssAfterGc) ? 'no trend' : 'grows'}.`,
      `- V8 heap in use after a full GC (what JavaScript still holds): ${describe(trend.heap)}: ${flat(trend.heap) ? 'no trend' : 'grows'}.`,
      '',
    );
  }
  if (results.routing.length > 0) {
    lines.push('## Routing (lookup cost against table size)', '', '| routes | route hit | req/s (median) | spread | ratio to bare | vs 10 routes (first), same round |', '| ---: | --- | ---: | ---: | ---: | ---: |');
    for (const row of results.routing) {
      const [size, which] = row.key.split('-');
      lines.push(`| ${Number(size).toLocaleString('en-US')} | ${which === 'first' ? 'first (static)' : 'last (with a parameter)'} | ${fmt.rps(row.rps)} | ${fmt.pct(row.spread)} | ${fmt.ratio(row.ratio)} | ${(row.vsTen * 100).toFixed(1)}% |`);
    }
    const worst = Math.max(...results.routing.filter((r) => r.key.startsWith('10000-')).map((r) => Math.abs(r.vsTen)));
    lines.push('', `Target: 10,000 routes within 10% of 10 routes: ${Number.isFinite(worst) ? `${worst <= 0.1 ? 'met' : 'missed'} (worst ${(worst * 100).toFixed(1)}%)` : 'not measured'}.`, '');
  }
  if (results.upload.length > 0) {
    lines.push('## 20 MiB upload', '', '| server | time (median of 5) | peak RSS growth | growth / body size |', '| --- | ---: | ---: | ---: |');
    for (const row of results.upload) lines.push(`| ${row.name} | ${fmt.ms(row.ms)} | ${fmt.mib(row.growth)} | ${(row.growth / row.body).toFixed(2)}× |`);
    lines.push('', 'Target: peak resident memory grows by less than 2× the body size.', '');
  }
  if (results.startup.length > 0) {
    lines.push('## Start-up', '', '| step | time (median of 5) | spread |', '| --- | ---: | ---: |');
    for (const row of results.startup) lines.push(`| ${row.name} | ${fmt.ms(row.ms)} | ${fmt.pct(row.spread)} |`);
    lines.push('', 'Target: under 1 s (the first two rows, on the whole machine). Each is a whole process: Node start-up, config checks, bundling and loading the function modules, compiling the route table.', '');
  }
  if (results.tls) lines.push('## TLS and HTTP/2 (`tls`)', '', results.tls, '');
  return `${lines.join('\n')}\n`;
}

/**
 * GET hello over HTTP/1.1 and HTTP/2 with TLS against bare node:https and
 * node:http2 servers, by bench/tls.mjs (h2load: wrk speaks no HTTP/2); its
 * report (RESULTS-tls.md) without its title goes into this one.
 */
function measureTls() {
  const run = spawnSync(process.execPath, [path.join(HERE, 'tls.mjs'), '--rounds', String(ROUNDS), '--seconds', String(SECONDS)], { stdio: 'inherit' });
  if (run.status !== 0) return `bench/tls.mjs failed (exit ${run.status}); see its output above.`;
  return readFileSync(path.join(HERE, 'RESULTS-tls.md'), 'utf8').replace(/^# .*\n+/, '').trim();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

/** Puts `items` in round `round`'s order: rotated by round - 1, reversed on even rounds. */
function rotate(items, round) {
  const shift = (round - 1) % items.length;
  items.push(...items.splice(0, shift));
  if (round % 2 === 0) items.reverse();
}
