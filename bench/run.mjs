#!/usr/bin/env node
// The benchmark suite: `npm run bench` (options: --rounds N, --seconds S,
// --only name,name, --profile). It starts every server itself on loopback,
// measures a bare node:http server and Portico in the same run, round after
// round and interleaved, and writes medians, spreads and ratios to
// bench/RESULTS.md. See bench/README.md for what each scenario measures.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { observabilityConfigs } from './lib/observability.mjs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureWrk, postScript, wrk } from './lib/load.mjs';
import { describeMachine } from './lib/machine.mjs';
import { memoryOf, resetPeak, startServer } from './lib/servers.mjs';
import { fmt, median, spread } from './lib/stats.mjs';
import { cpuSeconds } from './lib/cpu.mjs';
import { routingProject, startupProject, uploadProject } from './lib/projects.mjs';

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
const only = options.only ? new Set(options.only.split(',')) : null;
const wanted = (name) => !only || only.has(name);

const ECHO_BODY = JSON.stringify({ author: 'bench', body: 'x'.repeat(120), tags: ['a', 'b', 'c'], nested: { ok: true, n: 42 } }).padEnd(200, ' ');

async function main() {
  ensureWrk();
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  rmSync(path.join(HERE, 'app', '.data'), { recursive: true, force: true });

  const results = { throughput: [], routing: [], upload: [], startup: [] };
  const profileFlags = (name) => (options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(WORK, 'profiles', name)}`] : []);

  // Every round gets fresh server processes on the same ports. One process
  // can settle into a steadily slower state than another of the same build
  // (measured here: 33k and 43k req/s on GET hello, identical profiles, the
  // difference in the kernel's wake-ups between server and load generator),
  // so a run that kept one process would report that process, not the build.
  const startServers = async () => {
    const started = {
      bare: await startServer([path.join(HERE, 'servers', 'bare.mjs'), '4400']),
      koa: await startServer([path.join(HERE, 'servers', 'koa.mjs'), '4401']),
      portico: await startServer([BIN, 'serve', '-c', path.join(HERE, 'app', 'routes.yaml'), '--port', '4402'], {
        logFile: path.join(WORK, 'portico.log'),
        nodeFlags: profileFlags('portico'),
      }),
      // The proxy scenario's reference, forwarding to the bare server as the proxy route does.
      proxy: wanted('proxy') ? await startServer([path.join(HERE, 'servers', 'undici-proxy.mjs'), '4403', 'http://127.0.0.1:4400']) : null,
      // The same build with metrics and the dashboard's log capture on, and off.
      observed: observed ? await startServer([BIN, 'serve', '-c', observed.on, '--port', '4405'], { logFile: path.join(WORK, 'observed.log') }) : null,
      unobserved: observed ? await startServer([BIN, 'serve', '-c', observed.off, '--port', '4406'], { logFile: path.join(WORK, 'unobserved.log') }) : null,
    };
    // Seed one note so the query scenario reads a document.
    await request(started.portico.url + '/notes', 'POST', JSON.stringify({ author: 'bench', body: 'seed' }));
    return started;
  };
  const observed = wanted('observability') ? observabilityConfigs(path.join(HERE, 'app'), WORK) : null;
  let { bare, koa, portico, proxy, observed: on, unobserved: off } = await startServers();
  const servers = () => [bare, koa, portico, proxy, on, off].filter(Boolean);

  try {
    const post = (name, body) => postScript(WORK, name, body);
    const scenarios = [
      { name: 'get-hello', label: 'GET hello (HTTP action, CORS + request log)', url: `${portico.url}/hello`, headers: ORIGIN, reference: 'bare-get', target: 0.6 },
      { name: 'koa-get-hello', label: 'GET hello on bare koa + @koa/router (reference)', url: `${koa.url}/hello`, reference: 'bare-get' },
      { name: 'post-echo', label: 'POST 200-byte JSON echo', url: `${portico.url}/echo`, script: post('echo', ECHO_BODY), reference: 'bare-post', target: 0.5 },
      { name: 'query', label: 'query through an HTTP action (SQLite, index lookup)', url: `${portico.url}/notes/latest`, headers: ORIGIN, reference: 'bare-get' },
      { name: 'mutation', label: 'mutation through an HTTP action (SQLite insert, durable)', url: `${portico.url}/notes`, script: post('note', JSON.stringify({ author: 'bench', body: 'hello from wrk' })), reference: 'bare-get', target: 0.25 },
      { name: 'api-query', label: 'function API: POST /api/query', url: `${portico.url}/api/query`, script: post('api-query', JSON.stringify({ path: 'bench:latestOf', args: { author: 'bench' }, format: 'json' })), reference: 'bare-post' },
      { name: 'api-mutation', label: 'function API: POST /api/mutation', url: `${portico.url}/api/mutation`, script: post('api-mutation', JSON.stringify({ path: 'bench:addNote', args: { author: 'api', body: 'x' }, format: 'json' })), reference: 'bare-post' },
      { name: 'proxy', label: 'GET through a proxy route to a bare node:http upstream (CORS + request log)', url: `${portico.url}/proxy/hello`, headers: ORIGIN, reference: 'undici-proxy', target: 0.8 },
      ...(on ? [{ name: 'observability', label: 'GET hello with metrics and the dashboard\'s log capture on', url: `${on.url}/hello`, headers: ORIGIN, reference: 'hello-unobserved', target: 0.95 }] : []),
    ].filter((scenario) => wanted(scenario.name));
    const references = {
      'bare-get': { url: `${bare.url}/hello` },
      'bare-post': { url: `${bare.url}/echo`, script: post('bare-echo', ECHO_BODY) },
      ...(proxy ? { 'undici-proxy': { url: `${proxy.url}/proxy/hello`, headers: ORIGIN } } : {}),
      ...(off ? { 'hello-unobserved': { url: `${off.url}/hello`, headers: ORIGIN } } : {}),
    };

    if (scenarios.length > 0) {
      const samples = new Map([...Object.keys(references), ...scenarios.map((s) => s.name)].map((name) => [name, []]));
      for (let round = 1; round <= ROUNDS; round++) {
        if (round > 1) {
          for (const server of servers()) await server.stop();
          ({ bare, koa, portico, proxy, observed: on, unobserved: off } = await startServers());
        }
        // Rotate the order each round (and reverse every other one) so drift
        // in the machine (other tenants, thermal) and a scenario's place next
        // to another do not favour one side.
        const order = [...Object.entries(references).map(([name, spec]) => ({ name, ...spec })), ...scenarios];
        rotate(order, round);
        for (const item of order) {
          await wrk(item.url, { seconds: WARMUP, script: item.script, headers: item.headers });
          // The proxies' CPU per request too: a figure the other tenants of the machine move less.
          const pid = item.name === 'proxy' ? portico.pid : item.name === 'undici-proxy' ? proxy.pid : null;
          const cpuBefore = pid === null ? 0 : cpuSeconds(pid);
          const result = await wrk(item.url, { seconds: SECONDS, script: item.script, headers: item.headers });
          if (pid !== null) result.cpuPerRequest = (cpuSeconds(pid) - cpuBefore) / result.requests;
          samples.get(item.name).push(result);
          console.log(`round ${round}/${ROUNDS}  ${item.name.padEnd(14)} ${fmt.rps(result.rps).padStart(8)} req/s  p99 ${fmt.ms(result.p99)}${result.non2xx || result.socketErrors ? `  (${result.non2xx} non-2xx, ${result.socketErrors} socket errors)` : ''}`);
        }
      }
      const summary = (name) => {
        const rows = samples.get(name);
        return { rps: median(rows.map((r) => r.rps)), spread: spread(rows.map((r) => r.rps)), p99: median(rows.map((r) => r.p99)), failures: rows.reduce((n, r) => n + r.non2xx + r.socketErrors, 0) };
      };
      const referenceLabels = { 'bare-get': 'bare node:http GET hello', 'bare-post': 'bare node:http POST 200-byte JSON echo', 'undici-proxy': 'bare node:http reverse proxy on undici, to the bare server', 'hello-unobserved': 'GET hello with metrics and the dashboard turned off (same build)' };
      for (const [name] of Object.entries(references)) results.throughput.push({ name, label: referenceLabels[name], ...summary(name), ratio: 1, reference: name });
      for (const scenario of scenarios) {
        const own = samples.get(scenario.name);
        const base = samples.get(scenario.reference);
        // The ratio of each round's pair, then their median: pairs measured
        // minutes apart are not compared with each other.
        const ratios = own.map((row, i) => row.rps / base[i].rps);
        results.throughput.push({ ...scenario, ...summary(scenario.name), ratio: median(ratios), ratioSpread: spread(ratios) });
        if (scenario.name === 'proxy') {
          const cpu = (rows) => median(rows.map((r) => r.cpuPerRequest));
          results.proxyCpu = { portico: cpu(own), undici: cpu(base), ratio: median(own.map((row, i) => base[i].cpuPerRequest / row.cpuPerRequest)) };
        }
      }
    }

    if (wanted('routing')) results.routing = await measureRouting(references['bare-get'].url, profileFlags);
    if (wanted('upload')) results.upload = await measureUpload(bare);
  } finally {
    for (const server of servers()) await server.stop();
  }
  if (wanted('startup')) results.startup = await measureStartup();

  const report = render(results);
  writeFileSync(path.join(HERE, 'RESULTS.md'), report);
  console.log(`\n${report}`);
  console.log(`written to ${path.relative(process.cwd(), path.join(HERE, 'RESULTS.md'))}`);
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
    `- method: ${machine.pinning}; wrk -t1 -c50, ${WARMUP} s warm-up then ${SECONDS} s measured, ${ROUNDS} rounds interleaved (order rotated every round, reversed every other), fresh server processes every round; medians, spread = (max - min) / median; a ratio is the median of each round's Portico / reference pair`,
    '- Portico runs as users run it: `portico serve` with NODE_ENV=production, CORS on (requests carry an allowed Origin), one JSON log line per request to a file',
    '',
  ];
  if (results.throughput.length > 0) {
    lines.push('## Throughput', '', '| scenario | req/s (median) | spread | p99 | ratio to bare node:http | target | |', '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
    for (const row of results.throughput) {
      const target = row.target === undefined ? '' : `≥ ${row.target.toFixed(2)}`;
      const verdict = row.target === undefined ? '' : row.ratio >= row.target ? 'met' : `missed by ${((row.target - row.ratio) / row.target * 100).toFixed(0)}%`;
      const reference = row.reference === 'bare-get' && row.name !== 'bare-get' ? ' (of GET)' : row.reference === 'bare-post' && row.name !== 'bare-post' ? ' (of POST)' : row.reference === 'undici-proxy' && row.name !== 'undici-proxy' ? ' (of the undici proxy)' : row.reference === 'hello-unobserved' && row.name !== 'hello-unobserved' ? ' (of the same build with both off)' : '';
      lines.push(`| ${row.label} | ${fmt.rps(row.rps)} | ${fmt.pct(row.spread)} | ${fmt.ms(row.p99)} | ${fmt.ratio(row.ratio)}${reference} | ${target} | ${verdict}${row.failures ? ` ⚠ ${row.failures} failed` : ''} |`);
    }
    lines.push('');
    if (results.proxyCpu) {
      const { portico, undici, ratio } = results.proxyCpu;
      lines.push(`Proxy CPU per request (the proxy process alone, user + system): Portico ${(portico * 1e6).toFixed(1)} µs, the undici reverse proxy ${(undici * 1e6).toFixed(1)} µs; undici / Portico ${ratio.toFixed(2)} (median of the rounds' pairs).`, '');
    }
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
  return `${lines.join('\n')}\n`;
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
