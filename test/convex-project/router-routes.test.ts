import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';

// A router module named by routes.yaml (`router: ./functions/http.ts`): its
// routes join the YAML routes in one table, with the top-level policies
// (CORS with generated preflights, limits), appear in `portico routes`, are
// checked by `portico validate` (a clash names both places), and a reload
// picks up a change to the module.

const ORIGIN = 'http://app.example';

const messages = `
import { httpAction } from 'portico';
export const fromYaml = httpAction(async () => new Response('yaml'));
export const listed = httpAction(async (ctx, request) => new Response('exported ' + request.method));
`;

const router = (extra = '') => `
import { httpRouter, httpAction } from 'portico';
import { listed } from './messages';

const http = httpRouter();
http.route({ path: '/listed', method: 'GET', handler: listed });
http.route({
  path: '/inline',
  method: 'POST',
  handler: httpAction(async (_ctx, request) => new Response('inline ' + (await request.text()))),
});
http.route({ pathPrefix: '/files/', method: 'GET', handler: httpAction(async (_ctx, request) => new Response('prefix ' + new URL(request.url).pathname)) });
http.route({ pathPrefix: '/files/deep/', method: 'GET', handler: httpAction(async () => new Response('longer prefix')) });
http.route({ path: '/files/exact', method: 'GET', handler: httpAction(async () => new Response('exact')) });
http.route({ path: '/store', method: 'POST', handler: httpAction(async ({ storage }, request) => Response.json({ id: await storage.store(request) })) });
${extra}
export default http;
`;

const yaml = (routes = '  - { path: /yaml, method: GET, handler: "messages:fromYaml" }', extra = '') =>
  routesYaml(routes, `router: ./functions/http.ts\nlimits: { body: 1kb }\ncors: { origins: ["${ORIGIN}"], allowHeaders: [Content-Type] }\n${extra}`);

describe('routes from a router module beside routes.yaml', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': yaml(), 'functions/messages.ts': messages, 'functions/http.ts': router() });
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    await removeProject(dir);
  });

  test('YAML and router routes answer from one table', async () => {
    assert.equal(await (await fetch(`${gateway.url}/yaml`)).text(), 'yaml');
    assert.equal(await (await fetch(`${gateway.url}/listed`)).text(), 'exported GET');
    const inline = await fetch(`${gateway.url}/inline`, { method: 'POST', body: 'hi' });
    assert.equal(await inline.text(), 'inline hi');
  });

  test('exact before the longest prefix; a prefix matches below it, not the bare path', async () => {
    assert.equal(await (await fetch(`${gateway.url}/files/exact`)).text(), 'exact');
    assert.equal(await (await fetch(`${gateway.url}/files/deep/x`)).text(), 'longer prefix');
    assert.equal(await (await fetch(`${gateway.url}/files/a/b`)).text(), 'prefix /files/a/b');
    assert.equal((await fetch(`${gateway.url}/files`)).status, 404);
  });

  test('HEAD runs the GET route without a body', async () => {
    const head = await fetch(`${gateway.url}/listed`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('top-level CORS: a generated preflight and the origin on answers', async () => {
    const preflight = await fetch(`${gateway.url}/inline`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    const answer = await fetch(`${gateway.url}/inline`, { method: 'POST', body: 'x', headers: { Origin: ORIGIN } });
    assert.equal(answer.headers.get('access-control-allow-origin'), ORIGIN);
  });

  test('top-level limits: a body over limits.body is 413', async () => {
    const big = await fetch(`${gateway.url}/inline`, { method: 'POST', body: 'x'.repeat(2048) });
    assert.equal(big.status, 413);
  });

  test('storage.store(request) from a destructured ctx keeps the body; one over the limit is 413 and keeps nothing', async () => {
    const small = await fetch(`${gateway.url}/store`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'kept bytes' });
    assert.equal(small.status, 200);
    const { id } = (await small.json()) as { id: string };
    const file = await fetch(`${gateway.url}/api/storage/${id}`);
    assert.equal(await file.text(), 'kept bytes');
    assert.equal(file.headers.get('content-type'), 'text/plain');

    const stored = async () => (await readdir(path.join(dir, '.data/storage'), { recursive: true })).length;
    const before = await stored();
    const big = await fetch(`${gateway.url}/store`, { method: 'POST', body: 'x'.repeat(4096) });
    assert.equal(big.status, 413);
    assert.equal(await stored(), before);
  });

  test('portico routes lists the router routes with their handlers', async () => {
    const { code, stdout } = await runCli(['routes', '-c', path.join(dir, 'routes.yaml'), '--format', 'json'], { cwd: dir });
    assert.equal(code, 0, stdout);
    const rows = JSON.parse(stdout) as { method: string; path: string; handler: string; cors: string }[];
    const row = (method: string, p: string) => rows.find((r) => r.method === method && r.path === p);
    assert.equal(row('GET', '/yaml')?.handler, 'messages:fromYaml');
    assert.equal(row('GET', '/listed')?.handler, 'messages:listed');
    assert.match(row('POST', '/inline')?.handler ?? '', /^http\.ts:\d+$/);
    assert.equal(row('POST', '/inline')?.cors, ORIGIN);
    assert.ok(row('GET', '/files/*'));
    assert.ok(row('OPTIONS', '/inline'), 'the generated preflight is listed');
  });

  test('the OpenAPI document holds the router routes', async () => {
    const { code, stdout } = await runCli(['openapi', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.equal(code, 0, stdout);
    const document = JSON.parse(stdout) as { paths: Record<string, Record<string, unknown>> };
    assert.ok(document.paths['/yaml']?.get);
    assert.ok(document.paths['/listed']?.get);
    assert.ok(document.paths['/inline']?.post);
  });

  test('a reload picks up a route added to the router module', async () => {
    assert.equal((await fetch(`${gateway.url}/added`)).status, 404);
    await writeFile(path.join(dir, 'functions/http.ts'), router("http.route({ path: '/added', method: 'GET', handler: httpAction(async () => new Response('added')) });"));
    gateway.child.kill('SIGHUP');
    await gateway.waitForLog((line) => line.event === 'reloaded', 30_000);
    assert.equal(await (await fetch(`${gateway.url}/added`)).text(), 'added');
  });
});

describe('portico validate on a router module', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await removeProject(dir);
  });
  const validate = async (files: Record<string, string>) => {
    const dir = await makeProject(files);
    dirs.push(dir);
    return { dir, ...(await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir })) };
  };

  test('a clash between a YAML route and a router route is an error naming both places', async () => {
    const { code, stdout } = await validate({
      'routes.yaml': yaml('  - { path: /yaml, method: GET, handler: "messages:fromYaml" }\n  - { path: /inline, method: [GET, POST], handler: "messages:fromYaml" }'),
      'functions/messages.ts': messages,
      'functions/http.ts': router(),
    });
    assert.equal(code, 1, stdout);
    const line = stdout.split('\n').find((l) => l.includes('duplicate route'));
    assert.ok(line, stdout);
    // routes.yaml:<line of routes[1]>:<col>: error: ... functions/http.ts:<line>:<col> [routes/duplicate]
    assert.match(line, /^routes\.yaml:\d+:\d+: error: duplicate route: POST \/inline is declared by routes\[1\] here and by the router module at functions\/http\.ts:\d+:\d+ \[routes\/duplicate\]$/);
    const codeLine = Number(/http\.ts:(\d+)/.exec(line)![1]);
    const source = router().split('\n');
    assert.match(source[codeLine - 1]!, /http\.route\(\{/, `line ${codeLine} of http.ts is the route() call`);
    assert.ok(source.slice(codeLine - 1, codeLine + 1).join('\n').includes("'/inline'"));
  });

  test('a clean project validates, counting the router routes', async () => {
    const { code, stdout } = await validate({ 'routes.yaml': yaml(), 'functions/messages.ts': messages, 'functions/http.ts': router() });
    assert.equal(code, 0, stdout);
    assert.match(stdout, /7 routes/);
  });

  test('a router module whose default export is not a router', async () => {
    const { code, stdout } = await validate({ 'routes.yaml': yaml(), 'functions/messages.ts': messages, 'functions/http.ts': 'export default { routes: [] };\n' });
    assert.equal(code, 1);
    assert.match(stdout, /routes\.yaml:\d+:\d+: error: The default export of `functions\/http\.ts` is not a Router\. \[router\/invalid\]/);
  });

  test('a route() the router refuses is reported at its line, with Convex\'s message', async () => {
    const { code, stdout } = await validate({
      'routes.yaml': yaml(),
      'functions/messages.ts': messages,
      'functions/http.ts': router("http.route({ path: '/x', method: 'HEAD', handler: listed } as any);"),
    });
    assert.equal(code, 1);
    assert.match(stdout, /functions\/http\.ts:\d+:\d+: error: Uncaught Error: 'HEAD' is not an allowed HTTP method \(like GET, POST, PUT etc\.\)/);
  });

  test('a router path with a colon is refused: the table would read it as a parameter', async () => {
    const { code, stdout, stderr } = await validate({
      'routes.yaml': yaml(),
      'functions/messages.ts': messages,
      'functions/http.ts': router("http.route({ path: '/users/:id', method: 'GET', handler: listed });"),
    });
    assert.equal(code, 1, stdout + stderr);
    assert.match(stdout, /functions\/http\.ts:\d+:\d+: error: GET \/users\/:id: a router path with ':' or '\*' is not supported .*\[router\/unsupported-path\]/);
  });

  test('router: naming a file outside the functions folder, or no file', async () => {
    const outside = await validate({ 'routes.yaml': yaml().replace('router: ./functions/http.ts', 'router: ./http.ts'), 'functions/messages.ts': messages, 'http.ts': router() });
    assert.equal(outside.code, 1);
    assert.match(outside.stdout, /routes\.yaml:\d+:1: error: router: http\.ts is outside the functions folder \(functions\) \[router\/invalid\]/);
    const missing = await validate({ 'routes.yaml': yaml().replace('router: ./functions/http.ts', 'router: ./functions/routes.ts'), 'functions/messages.ts': messages });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /error: router: functions\/routes\.ts does not exist \[router\/invalid\]/);
  });

  test('a router route under the function API prefix is reserved', async () => {
    const { code, stdout } = await validate({
      'routes.yaml': yaml(),
      'functions/messages.ts': messages,
      'functions/http.ts': router("http.route({ path: '/api/mine', method: 'GET', handler: listed });"),
    });
    assert.equal(code, 1);
    assert.match(stdout, /functions\/http\.ts:\d+:\d+: error: GET \/api\/mine is under \/api, the prefix of the function API/);
  });
});
