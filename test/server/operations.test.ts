import assert from 'node:assert/strict';
import { access, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Koa from 'koa';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { Runtime, ProjectError } from '../../src/server/index.js';
import { makeProject, removeProject, routesYaml, writeProject } from '../helpers/project.js';
import { startGateway, type LogLine, type RunningGateway } from '../helpers/gateway.js';

// Running a gateway in production: the health endpoint, a graceful stop
// with requests in flight, reloads on SIGHUP (good, bad, and a hundred of
// them under load), `portico dev` hot-swapping code and config, and the
// gateway mounted as a Koa middleware. All over real sockets.

const appModule = (answer: string) => `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response(${JSON.stringify(answer)}));
export const extra = httpAction(async () => new Response('extra'));
export const slow = httpAction(async (_ctx, request) => {
  const ms = Number(new URL(request.url).searchParams.get('ms') ?? '1500');
  console.log('slow request started');
  await new Promise((resolve) => setTimeout(resolve, ms));
  return new Response('slow done after ' + ms);
});
`;

const baseRoutes = `
  - { path: /hello, method: GET, handler: "app:hello" }
  - { path: /slow, method: GET, handler: "app:slow" }
`;
const withExtraRoute = `${baseRoutes}  - { path: /extra, method: GET, handler: "app:extra" }\n`;

// The environment a gateway started by startGateway() sees, so a hash
// computed here is the one it computes.
const gatewayEnv = () => ({ ...process.env, NODE_ENV: 'test' });

async function expectedHash(file: string): Promise<string> {
  const { config, diagnostics } = await loadConfig(file, { env: gatewayEnv() });
  assert.ok(config, JSON.stringify(diagnostics));
  return config.hash;
}

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});
async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files);
  dirs.push(dir);
  return dir;
}
async function start(dir: string, options: Parameters<typeof startGateway>[1] = {}): Promise<RunningGateway> {
  const gateway = await startGateway(dir, { timeoutMs: 60_000, ...options });
  gateways.push(gateway);
  return gateway;
}

/** A GET over `agent` (keep-alive when it is a keep-alive agent). */
function get(url: string, agent?: http.Agent): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body, headers: response.headers }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

async function health(url: string): Promise<{ status: string; configHash: string; pid: number }> {
  const response = await get(`${url}/_portico/health`);
  assert.equal(response.status, 200);
  return JSON.parse(response.body);
}

/** Waits until `count` log lines match. */
async function waitForLines(gateway: RunningGateway, match: (line: LogLine) => boolean, count: number, timeoutMs = 20_000): Promise<LogLine[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = gateway.logs().filter(match);
    if (found.length >= count) return found;
    if (Date.now() > deadline) {
      throw new Error(`expected ${count} matching log lines, saw ${found.length}; last lines:\n${gateway.logs().slice(-5).map((l) => JSON.stringify(l)).join('\n')}`);
    }
    if (gateway.child.exitCode !== null) throw new Error(`portico exited (${gateway.child.exitCode}) while waiting; stderr:\n${gateway.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const reloaded = (line: LogLine) => line.event === 'reloaded';
const refused = (line: LogLine) => line.event === 'reload-refused';

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('GET /_portico/health', () => {
  test('answers status ok with the hash of the active config; HEAD answers without a body', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const response = await get(`${gateway.url}/_portico/health`);
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = JSON.parse(response.body);
    assert.equal(body.status, 'ok');
    assert.equal(body.configHash, await expectedHash(path.join(dir, 'routes.yaml')));
    assert.match(body.configHash, /^[0-9a-f]{64}$/);

    const head = await fetch(`${gateway.url}/_portico/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(response.body));

    const post = await fetch(`${gateway.url}/_portico/health`, { method: 'POST' });
    assert.notEqual(post.status, 200);
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });
});

describe('SIGTERM', () => {
  test('requests in flight finish with 200, new connections are refused, the process exits 0', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const agent = new http.Agent({ keepAlive: true });
    const inFlight = Array.from({ length: 5 }, () => get(`${gateway.url}/slow?ms=2000`, agent));
    await waitForLines(gateway, (line) => line.msg === 'slow request started', 5);

    const started = Date.now();
    gateway.child.kill('SIGTERM');
    await gateway.waitForLog((line) => line.msg === 'stop requested');
    // The listener closes at once; the slow requests are still running.
    await waitUntil(async () => !(await connectable(gateway.port)), 5000);
    const late = await get(`${gateway.url}/hello`).then(
      () => 'answered',
      (error: NodeJS.ErrnoException) => error.code,
    );
    assert.equal(late, 'ECONNREFUSED');
    assert.equal(gateway.child.exitCode, null, 'still draining');

    const results = await Promise.all(inFlight);
    for (const result of results) {
      assert.equal(result.status, 200);
      assert.equal(result.body, 'slow done after 2000');
    }
    assert.ok(Date.now() - started < 10_000);
    assert.deepEqual(await gateway.exited, { code: 0, signal: null });
    agent.destroy();
  });

  test('responses finished during the stop close their keep-alive connection, so clients do not reuse it', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    // One request in flight on a kept-alive connection when SIGTERM arrives...
    const inFlight = get(`${gateway.url}/slow?ms=1500`, agent);
    await waitForLines(gateway, (line) => line.msg === 'slow request started', 1);
    gateway.child.kill('SIGTERM');
    await gateway.waitForLog((line) => line.msg === 'stop requested');
    const finished = await inFlight;
    assert.equal(finished.status, 200);
    // ...is told the connection ends with it.
    assert.equal(finished.headers.connection, 'close');
    // So the next request does not go out on a socket the server is about
    // to drop: it needs a new connection, which is refused.
    const next = await get(`${gateway.url}/hello`, agent).then(
      (response) => `answered ${response.status}`,
      (error: NodeJS.ErrnoException) => error.code,
    );
    assert.equal(next, 'ECONNREFUSED');
    assert.deepEqual(await gateway.exited, { code: 0, signal: null });
    agent.destroy();
  });

  test('idle keep-alive connections do not hold the stop open', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    assert.equal((await get(`${gateway.url}/hello`, agent)).body, 'v1');
    const started = Date.now();
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
    assert.ok(Date.now() - started < 4000, `stopped in ${Date.now() - started} ms (a kept-alive connection would hold it 5 s)`);
    agent.destroy();
  });
});

describe('SIGHUP reload', () => {
  test('a changed routes.yaml becomes live and the health hash changes', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const file = path.join(dir, 'routes.yaml');
    const gateway = await start(dir);
    const before = await health(gateway.url);
    assert.equal((await get(`${gateway.url}/extra`)).status, 404);

    await writeFile(file, routesYaml(withExtraRoute));
    gateway.child.kill('SIGHUP');
    await waitForLines(gateway, reloaded, 1);

    const extra = await get(`${gateway.url}/extra`);
    assert.equal(extra.status, 200);
    assert.equal(extra.body, 'extra');
    const afterReload = await health(gateway.url);
    assert.notEqual(afterReload.configHash, before.configHash);
    assert.equal(afterReload.configHash, await expectedHash(file));
    assert.equal(afterReload.pid, before.pid, 'the same process');
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('a reload that changes the port or the logging says it cannot apply them, and applies the rest', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(withExtraRoute, 'server: { port: 1 }\nlogging: { level: debug }'));
    gateway.child.kill('SIGHUP');
    const warnings = await waitForLines(gateway, (line) => line.event === 'reload-partial', 2);
    assert.deepEqual(warnings.map((line) => line.setting).sort(), ['logging', 'server.port']);
    assert.ok(warnings.every((line) => line.level === 40), 'warn level');
    assert.equal((await get(`${gateway.url}/extra`)).status, 200, 'the new route is live on the old port');
  });

  test('a reload that moves to another database closes the old one after the grace period', async () => {
    const config = (file: string) => `version: 1
functions: ./functions
server: { shutdownTimeout: 500ms }
backend: { kind: local, database: ./.data/${file} }
storage: { kind: fs, dir: ./.data/storage }
routes:
${baseRoutes}`;
    const dir = await project({ 'routes.yaml': config('first.sqlite'), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const wal = path.join(dir, '.data', 'first.sqlite-wal');
    assert.ok(await exists(wal), 'an open SQLite database has its write-ahead log');
    await writeFile(path.join(dir, 'routes.yaml'), config('second.sqlite'));
    gateway.child.kill('SIGHUP');
    await waitForLines(gateway, reloaded, 1);
    // SQLite removes the log when the last connection to the file closes.
    await waitUntil(async () => !(await exists(wal)), 10_000);
    assert.equal((await get(`${gateway.url}/hello`)).status, 200);
    assert.ok(await exists(path.join(dir, '.data', 'second.sqlite')));
  });

  test('an invalid new config is refused loudly (FILE:LINE:COL at error level); the old one keeps serving', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const file = path.join(dir, 'routes.yaml');
    const gateway = await start(dir);
    const before = await health(gateway.url);

    const broken = routesYaml(`${baseRoutes}  - { path: /extra, metod: GET, handler: "app:extra" }\n`);
    await writeFile(file, broken);
    gateway.child.kill('SIGHUP');
    const lines = await waitForLines(gateway, refused, 2);
    const line = broken.split('\n').findIndex((text) => text.includes('metod')) + 1;
    const located = lines.find((entry) => /routes\.yaml:\d+:\d+: error: /.test(entry.msg));
    assert.ok(located, JSON.stringify(lines));
    assert.ok(located.level >= 50, 'error level');
    assert.match(located.msg, new RegExp(`routes\\.yaml:${line}:\\d+: error: unknown key 'metod'.*\\[schema/unknown-key\\]`));

    assert.equal((await health(gateway.url)).configHash, before.configHash);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v1');
    assert.equal((await get(`${gateway.url}/extra`)).status, 404);

    // A module that does not build is refused the same way, at its own line.
    await writeFile(file, routesYaml(withExtraRoute));
    await writeProject(dir, { 'functions/app.ts': `${appModule('v2')}\nexport const broken = ;\n` });
    gateway.child.kill('SIGHUP');
    const second = await waitForLines(gateway, (entry) => refused(entry) && /functions\/app\.ts:\d+:\d+: error: .*\[functions\/load\]/.test(entry.msg), 1);
    assert.ok(second[0]!.level >= 50);
    assert.equal((await health(gateway.url)).configHash, before.configHash);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v1');

    // Fixed: the next SIGHUP takes it.
    await writeProject(dir, { 'functions/app.ts': appModule('v2') });
    gateway.child.kill('SIGHUP');
    await waitForLines(gateway, reloaded, 1);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v2');
    assert.equal((await health(gateway.url)).configHash, await expectedHash(file));
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('a reload that fails for a reason outside the project (the build folder cannot be written) is refused, not fatal', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const before = await health(gateway.url);
    // Module builds go under .portico/; a file in its place makes them fail with ENOTDIR.
    await rm(path.join(dir, '.portico'), { recursive: true, force: true });
    await writeFile(path.join(dir, '.portico'), 'not a folder');
    await writeProject(dir, { 'functions/app.ts': appModule('v2') });
    gateway.child.kill('SIGHUP');
    const [refusal] = await waitForLines(gateway, refused, 1);
    assert.ok(refusal!.level >= 50);
    assert.match(refusal!.msg, /ENOTDIR/);
    assert.equal(gateway.child.exitCode, null, 'still running');
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v1');
    assert.equal((await health(gateway.url)).configHash, before.configHash);

    await rm(path.join(dir, '.portico'));
    gateway.child.kill('SIGHUP');
    await waitForLines(gateway, reloaded, 1);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v2');
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('a request in flight during a reload finishes on the version it started on', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir);
    const slow = get(`${gateway.url}/slow?ms=1500`);
    await waitForLines(gateway, (line) => line.msg === 'slow request started', 1);
    await writeProject(dir, { 'functions/app.ts': appModule('v2').replace("'slow done after '", "'new version after '") });
    gateway.child.kill('SIGHUP');
    await waitForLines(gateway, reloaded, 1);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v2');
    const finished = await slow;
    assert.equal(finished.status, 200);
    assert.equal(finished.body, 'slow done after 1500');
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('a hundred reloads under a steady request load fail no request', async () => {
    // Two configs whose /hello is answered by different handlers.
    const configA = routesYaml(`  - { path: /hello, method: GET, handler: "a:hello" }\n`);
    const configB = routesYaml(`  - { path: /hello, method: GET, handler: "b:hello" }\n  - { path: /b-only, method: GET, handler: "b:hello" }\n`);
    const dir = await project({
      'routes.yaml': configA,
      'functions/a.ts': `import { httpAction } from 'portico';\nexport const hello = httpAction(async () => new Response('A'));\n`,
      'functions/b.ts': `import { httpAction } from 'portico';\nexport const hello = httpAction(async () => new Response('B'));\n`,
    });
    const file = path.join(dir, 'routes.yaml');
    const gateway = await start(dir);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const seen = { A: 0, B: 0 };
    const failures: string[] = [];
    let running = true;
    const loop = async () => {
      while (running) {
        try {
          const response = await get(`${gateway.url}/hello`, agent);
          if (response.status !== 200 || (response.body !== 'A' && response.body !== 'B')) failures.push(`${response.status} ${response.body}`);
          else seen[response.body] += 1;
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);

    const RELOADS = 100;
    for (let i = 1; i <= RELOADS; i++) {
      await writeFile(file, i % 2 === 1 ? configB : configA);
      gateway.child.kill('SIGHUP');
      await waitForLines(gateway, reloaded, i, 30_000);
      // Let some requests run on each version.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    running = false;
    await Promise.all(loops);
    agent.destroy();

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests`);
    assert.ok(seen.A > 0 && seen.B > 0, `both versions served: ${JSON.stringify(seen)}`);
    assert.ok(seen.A + seen.B >= RELOADS, `a steady load: ${seen.A + seen.B} requests`);
    assert.equal(gateway.logs().filter(refused).length, 0);
    // The last config written (A) is the one serving.
    assert.equal((await get(`${gateway.url}/hello`)).body, 'A');
    assert.equal((await get(`${gateway.url}/b-only`)).status, 404);
    assert.equal((await health(gateway.url)).configHash, await expectedHash(file));
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });
});

describe('portico dev', () => {
  test('picks up a changed function module and a changed routes.yaml without a restart', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(baseRoutes), 'functions/app.ts': appModule('v1') });
    const gateway = await start(dir, { command: 'dev' });
    const { pid } = await health(gateway.url);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v1');

    await writeProject(dir, { 'functions/app.ts': appModule('v2') });
    await waitUntil(async () => (await get(`${gateway.url}/hello`)).body === 'v2', 15_000);

    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(withExtraRoute));
    await waitUntil(async () => (await get(`${gateway.url}/extra`)).status === 200, 15_000);
    assert.equal((await health(gateway.url)).configHash, await expectedHash(path.join(dir, 'routes.yaml')));

    // A broken change is refused; the running version keeps serving.
    const reloadsBefore = gateway.logs().filter(refused).length;
    await writeProject(dir, { 'functions/app.ts': `${appModule('v3')}\nexport const oops = ;\n` });
    await waitForLines(gateway, refused, reloadsBefore + 1, 15_000);
    assert.equal((await get(`${gateway.url}/hello`)).body, 'v2');

    assert.equal((await health(gateway.url)).pid, pid, 'no restart');
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });

  test('watches .env, follows a moved functions folder, and ignores hidden folders inside it', async () => {
    const yaml = (functions: string) =>
      routesYaml(`${baseRoutes}  - { path: "\${EXTRA_PATH:-/not-yet}", method: GET, handler: "app:extra" }\n`).replace('functions: ./functions', `functions: ${functions}`);
    const dir = await project({ 'routes.yaml': yaml('./functions'), 'functions/app.ts': appModule('v1'), 'moved/app.ts': appModule('moved v1') });
    const gateway = await start(dir, { command: 'dev', env: { EXTRA_PATH: undefined } });

    await writeFile(path.join(dir, '.env'), 'EXTRA_PATH=/from-env\n');
    await waitUntil(async () => (await get(`${gateway.url}/from-env`)).status === 200, 15_000);
    // The swap is visible before its log line (log lines are written in
    // batches): count reloads only once the line is there.
    await waitForLines(gateway, reloaded, 1);

    const reloads = () => gateway.logs().filter(reloaded).length + gateway.logs().filter(refused).length;
    const before = reloads();
    await writeProject(dir, { 'functions/.scratch/notes.ts': 'export const x = ;\n' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(reloads(), before, 'a hidden folder is not watched');

    // A failure says what dev printed and logged meanwhile.
    const explain = (error: Error) => {
      throw new Error(`${error.message}\nstderr:\n${gateway.stderr().slice(-3000)}\nlast log lines:\n${gateway.logs().slice(-15).map((line) => JSON.stringify(line)).join('\n')}`);
    };
    await writeFile(path.join(dir, 'routes.yaml'), yaml('./moved'));
    await waitUntil(async () => (await get(`${gateway.url}/hello`)).body === 'moved v1', 15_000).catch(explain);
    await writeProject(dir, { 'moved/app.ts': appModule('moved v2') });
    await waitUntil(async () => (await get(`${gateway.url}/hello`)).body === 'moved v2', 15_000).catch(explain);
    assert.deepEqual(await gateway.stop(), { code: 0, signal: null });
  });
});

describe('the Koa middleware', () => {
  test('Runtime.create + koaMiddleware() serves routes inside a real Koa app, after its own middleware', async () => {
    const dir = await project({
      'routes.yaml': routesYaml(`${baseRoutes}  - { path: /echo/:id, method: POST, handler: "echo:post" }\n`),
      'functions/app.ts': appModule('v1'),
      'functions/echo.ts': `import { httpAction } from 'portico';
export const post = httpAction(async (ctx, request) => Response.json({ id: ctx.params.id, body: await request.text(), url: request.url }, { headers: { 'x-from': 'portico' } }));
`,
    });
    const runtime = await Runtime.create({ configFile: path.join(dir, 'routes.yaml'), env: gatewayEnv(), logger: pino({ level: 'silent' }) });
    const app = new Koa();
    app.use(async (ctx, next) => {
      ctx.set('x-koa', 'seen');
      if (ctx.path === '/koa-own') {
        ctx.body = { from: 'koa' };
        return;
      }
      await next();
    });
    app.use(runtime.koaMiddleware());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const hello = await get(`${base}/hello`);
      assert.equal(hello.status, 200);
      assert.equal(hello.body, 'v1');
      assert.equal(hello.headers['x-koa'], 'seen');
      assert.ok(hello.headers['x-request-id']);

      const echo = await fetch(`${base}/echo/42`, { method: 'POST', body: 'payload' });
      assert.equal(echo.status, 200);
      assert.equal(echo.headers.get('x-from'), 'portico');
      assert.deepEqual(await echo.json(), { id: '42', body: 'payload', url: `${base}/echo/42` });

      const own = await get(`${base}/koa-own`);
      assert.deepEqual(JSON.parse(own.body), { from: 'koa' });

      const missing = await get(`${base}/nowhere`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body, 'No matching routes found');

      const healthBody = JSON.parse((await get(`${base}/_portico/health`)).body);
      assert.equal(healthBody.configHash, await expectedHash(path.join(dir, 'routes.yaml')));

      // A reload is seen by the middleware too.
      await writeProject(dir, { 'functions/app.ts': appModule('v2') });
      const result = await runtime.reload();
      assert.equal(result.ok, true);
      assert.equal((await get(`${base}/hello`)).body, 'v2');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await runtime.stop();
    }
  });

  test('Runtime.create refuses an invalid project with a ProjectError carrying the diagnostics', async () => {
    const dir = await project({ 'routes.yaml': routesYaml(`  - { path: /x, metod: GET, handler: "app:hello" }\n`), 'functions/app.ts': appModule('v1') });
    await assert.rejects(
      Runtime.create({ configFile: path.join(dir, 'routes.yaml'), env: gatewayEnv(), logger: pino({ level: 'silent' }) }),
      (error: unknown) => error instanceof ProjectError && error.diagnostics.some((d) => d.rule === 'schema/unknown-key' && d.line === 7),
    );
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}
