import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Koa from 'koa';
import pino from 'pino';
import { Runtime } from '../../src/server/index.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';

// Portico embedded in a Koa app (portico/server): creating the runtime leaves
// the host's globals as they were (Node's own Request, Response, fetch and
// console), while Portico's handlers still get the light Response, the
// Request that understands lazy requests, and a console tied to the request.

const files = {
  'functions/probe.ts': `
import { httpAction } from 'portico';
export const probe = httpAction(async (ctx, request) => {
  console.log('from the handler');
  return Response.json({
    lightResponse: Response !== globalThis.Response,
    portableRequest: request instanceof Request && request instanceof globalThis.Request,
    capturedConsole: console !== globalThis.console,
    ownFetch: fetch !== globalThis.fetch,
    responseIsResponse: new Response('x') instanceof globalThis.Response,
  });
});
`,
};

describe('embedding Portico in a Koa app', () => {
  const original = { Request: globalThis.Request, Response: globalThis.Response, fetch: globalThis.fetch, console: globalThis.console, log: console.log, warn: console.warn };
  const logged: string[] = [];
  let dir: string;
  let runtime: Runtime;
  let server: ReturnType<Koa['listen']>;
  let url: string;

  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml('  - { path: /probe, method: GET, handler: "probe:probe" }', 'server: { publicUrl: http://localhost }'), ...files });
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (logged.push(String(chunk)), done()) }));
    runtime = await Runtime.create({ configFile: `${dir}/routes.yaml`, logger });
    const app = new Koa();
    // The app's own route, which looks at the globals it sees.
    app.use(async (ctx, next) => {
      if (ctx.path !== '/host') return next();
      ctx.body = {
        Request: globalThis.Request === original.Request,
        Response: globalThis.Response === original.Response,
        fetch: globalThis.fetch === original.fetch,
        console: globalThis.console === original.console && console.log === original.log && console.warn === original.warn,
        nativeResponse: new Response('x').body instanceof ReadableStream,
      };
    });
    app.use(runtime.koaMiddleware());
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await runtime?.stop(1_000);
    await removeProject(dir);
  });

  // Bug: Runtime.create replaced the global fetch, Request, Response and the
  // console's methods, for the whole process that embeds it.
  test("creating the runtime leaves the process's globals as they were", () => {
    assert.equal(globalThis.Request, original.Request);
    assert.equal(globalThis.Response, original.Response);
    assert.equal(globalThis.fetch, original.fetch);
    assert.equal(console.log, original.log);
    assert.equal(console.warn, original.warn);
  });

  test("the Koa app's own middleware sees Node's Request, Response, fetch and console", async () => {
    const response = await fetch(`${url}/host`);
    assert.deepEqual(await response.json(), { Request: true, Response: true, fetch: true, console: true, nativeResponse: true });
  });

  test("Portico's handlers still get the light Response, a Request that passes both instanceof checks, Portico's fetch and console", async () => {
    const response = await fetch(`${url}/probe`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { lightResponse: true, portableRequest: true, capturedConsole: true, ownFetch: true, responseIsResponse: true });
    // The handler's console.log became a log line of its request, not output of the host's console.
    const id = response.headers.get('x-request-id');
    assert.ok(logged.some((line) => line.includes('from the handler') && line.includes(String(id))), logged.join(''));
  });
});
