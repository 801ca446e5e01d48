// middleware: Koa as the extension seam. A Koa ecosystem package (koa-helmet)
// declared in YAML with options, and middleware of the test's own: a real
// Koa ctx, headers set, ctx.state seen by the handler, a short-circuit
// (403) without the handler running, ctx.throw answered from the catalogue,
// the top-level list and a route's own in order, `false` on a route, and a
// reload that picks up an edited middleware file.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml, writeProject } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { get } from './rate-limit-helpers.js';

const ORIGIN = 'https://app.example.com';

const HANDLERS = `import { httpAction } from 'portico';
let calls = 0;
export const show = httpAction(async (ctx) => { calls++; return Response.json({ state: ctx.state ?? null }); });
export const calls_ = httpAction(async () => new Response(String(calls)));
export { calls_ as calls };
`;

const AUDIT = (tag: string) => `import type { Context, Next } from 'koa';
// A middleware of the project's own: a factory taking options.
export default function audit(options: { tag: string }) {
  return async (ctx: Context, next: Next) => {
    if (!('request' in ctx) || typeof ctx.get !== 'function') throw new Error('not a Koa ctx');
    ctx.state.audit = { tag: options.tag + '${tag}', path: ctx.path, method: ctx.method, ua: ctx.get('user-agent') };
    ctx.set('X-Audit', options.tag + '${tag}');
    await next();
  };
}
export const guard = async (ctx: Context, next: Next) => {
  if (ctx.get('x-key') !== 'open-sesame') {
    ctx.status = 403;
    ctx.body = { denied: true, path: ctx.path };
    return;
  }
  ctx.state.guarded = true;
  await next();
};
export const thrower = async (ctx: Context) => ctx.throw(418, 'I am a teapot');
export const forbid = async (ctx: Context) => ctx.throw(403, 'members only');
export const crash = async () => { throw new Error('middleware bug'); };
`;

describe('Koa middleware', () => {
  let dir: string;
  let gw: RunningGateway;
  before(async () => {
    dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'middleware/audit.ts': AUDIT(''),
      'routes.yaml': routesYaml(
        `  - { path: /plain, method: GET, handler: h:show, middleware: false }
  - { path: /calls, method: GET, handler: h:calls, middleware: false }
  - { path: /audited, method: GET, handler: h:show }
  - path: /guarded
    method: GET
    handler: h:show
    middleware: [./middleware/audit.ts:guard]
  - { path: /forbidden, method: GET, handler: h:show, middleware: ["./middleware/audit.ts:forbid"] }
  - { path: /teapot, method: GET, handler: h:show, middleware: ["./middleware/audit.ts:thrower"] }
  - { path: /crash, method: GET, handler: h:show, middleware: ["./middleware/audit.ts:crash"] }`,
        `cors: { origins: ["${ORIGIN}"] }
middleware:
  - use: koa-helmet
    options: { frameguard: { action: deny }, contentSecurityPolicy: false }
  - { use: ./middleware/audit.ts, options: { tag: v1 } }`,
      ),
    });
    gw = await startGateway(dir);
  });
  after(async () => {
    await gw?.stop();
    await removeProject(dir);
  });

  test('koa-helmet declared in YAML with options sets its headers; the project\'s middleware sets one and fills ctx.state, which the handler sees', async () => {
    const answer = await get(gw.port, '/audited', { headers: { 'user-agent': 'test-agent', origin: ORIGIN } });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['content-security-policy'], undefined, 'the option turned CSP off');
    assert.equal(answer.headers['x-audit'], 'v1');
    assert.equal(answer.headers['access-control-allow-origin'], ORIGIN);
    assert.ok(answer.headers['x-request-id']);
    assert.deepEqual(JSON.parse(answer.body).state, { audit: { tag: 'v1', path: '/audited', method: 'GET', ua: 'test-agent' } });
  });

  test('a route without middleware gets none of it', async () => {
    const answer = await get(gw.port, '/plain');
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-frame-options'], undefined);
    assert.equal(answer.headers['x-audit'], undefined);
    assert.deepEqual(JSON.parse(answer.body).state, null);
  });

  test('a route\'s own middleware runs after the top-level ones and can short-circuit: 403, the handler does not run', async () => {
    const before = (await get(gw.port, '/calls')).body;
    const denied = await get(gw.port, '/guarded', { headers: { origin: ORIGIN } });
    assert.equal(denied.status, 403);
    assert.deepEqual(JSON.parse(denied.body), { denied: true, path: '/guarded' });
    assert.equal(denied.headers['x-frame-options'], 'DENY', 'the top-level middleware ran first');
    assert.equal(denied.headers['x-audit'], 'v1');
    assert.ok(denied.headers['x-request-id']);
    assert.equal(denied.headers['access-control-allow-origin'], ORIGIN);
    assert.equal((await get(gw.port, '/calls')).body, before);
    const allowed = await get(gw.port, '/guarded', { headers: { 'x-key': 'open-sesame' } });
    assert.equal(allowed.status, 200);
    assert.deepEqual(JSON.parse(allowed.body).state, { audit: { tag: 'v1', path: '/guarded', method: 'GET', ua: '' }, guarded: true });
  });

  test('ctx.throw answers from the error catalogue; an unexpected error is a logged 500 with the request id', async () => {
    const forbidden = await get(gw.port, '/forbidden', { headers: { origin: ORIGIN } });
    assert.equal(forbidden.status, 403);
    assert.deepEqual(JSON.parse(forbidden.body), { code: 'Forbidden', message: 'members only' });
    assert.equal(forbidden.headers['access-control-allow-origin'], ORIGIN);
    const teapot = await get(gw.port, '/teapot');
    assert.equal(teapot.status, 500, 'a status outside the catalogue is an internal error');
    const crash = await get(gw.port, '/crash');
    assert.equal(crash.status, 500);
    const body = JSON.parse(crash.body);
    assert.equal(body.code, 'InternalServerError');
    assert.match(body.message, new RegExp(String(crash.headers['x-request-id'])));
    await gw.waitForLog((line) => line.msg === 'middleware failed' && line.reqId === crash.headers['x-request-id']);
  });

  test('a reload picks up an edited middleware file', async () => {
    await writeProject(dir, { 'middleware/audit.ts': AUDIT('-edited') });
    gw.child.kill('SIGHUP');
    const deadline = Date.now() + 15_000;
    let tag: unknown;
    while (Date.now() < deadline) {
      tag = (await get(gw.port, '/audited')).headers['x-audit'];
      if (tag === 'v1-edited') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(tag, 'v1-edited');
  });
});

describe('middleware on a proxy route', () => {
  test('the middleware runs around the upstream: a short-circuit never reaches it, an allowed request gets the middleware\'s headers with the upstream\'s answer', async () => {
    let reached = 0;
    const upstream = http.createServer((req, res) => {
      reached++;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
      res.end(`upstream saw ${req.url}`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    const dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'middleware/audit.ts': AUDIT(''),
      'routes.yaml': routesYaml(
        `  - pathPrefix: /svc/
    method: GET
    proxy: { upstream: "http://127.0.0.1:${port}", stripPrefix: true }
    middleware: [koa-helmet, ./middleware/audit.ts:guard]`,
        'api: false',
      ),
    });
    const gw = await startGateway(dir);
    try {
      const denied = await get(gw.port, '/svc/a');
      assert.equal(denied.status, 403);
      assert.equal(reached, 0, 'the upstream was reached for a refused request');
      const allowed = await get(gw.port, '/svc/a', { headers: { 'x-key': 'open-sesame' } });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.body, 'upstream saw /a');
      assert.equal(allowed.headers['x-upstream'], 'yes');
      assert.equal(allowed.headers['x-content-type-options'], 'nosniff');
      assert.equal(reached, 1);
    } finally {
      await gw.stop();
      upstream.close();
      await removeProject(dir);
    }
  });
});

describe('middleware in validate', () => {
  test('a missing file and a package that is not installed are FILE:LINE:COL errors', async () => {
    const dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'routes.yaml': routesYaml('  - { path: /a, method: GET, handler: h:show, middleware: [./middleware/nope.ts] }', 'middleware:\n  - use: koa-not-installed-anywhere'),
    });
    try {
      const result = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
      assert.equal(result.code, 1);
      const out = result.stdout + result.stderr;
      assert.match(out, /routes\.yaml:\d+:\d+: error: middleware package koa-not-installed-anywhere is not installed \[policies\/middleware\]/);
      assert.match(out, /routes\.yaml:\d+:\d+: error: middleware file middleware\/nope\.ts does not exist \[config\/missing-file\]/);
    } finally {
      await removeProject(dir);
    }
  });
});
