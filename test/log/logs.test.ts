import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { BIN, startGateway, type LogLine, type RunningGateway } from '../helpers/gateway.js';
import { StepSocket } from '../helpers/socket.js';

// The logs on stdout: one JSON line per request (request id, method, path
// without its query string, matched route, handler, status, duration), the
// request id equal to the response's x-request-id, and console.* inside a
// handler (or a function it calls) as a line carrying that request's id,
// also when many requests interleave.

const functions = {
  'functions/logs.ts': `
import { httpAction, query, v } from 'portico';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const markerOf = (request: Request) => new URL(request.url).searchParams.get('marker') ?? 'none';

export const hello = httpAction(async () => new Response('hello'));
export const boom = httpAction(async () => { throw new Error('boom'); });

// Logs its marker at every level, each after an await, so requests interleave.
export const chatty = httpAction(async (_ctx, request) => {
  const marker = markerOf(request);
  await sleep(Math.random() * 30);
  console.log('log line of', marker);
  await sleep(Math.random() * 30);
  console.warn('warn line of', marker);
  await new Promise((resolve) => setImmediate(resolve));
  console.error('error line of', marker, { detail: 1 });
  await sleep(Math.random() * 10);
  console.info('info line of', marker);
  return new Response(marker);
});

export const viaQuery = httpAction(async (ctx, request) => {
  const marker = markerOf(request);
  await sleep(Math.random() * 20);
  return new Response(await ctx.runQuery('logs:noisy', { marker }));
});

export const noisy = query({
  args: { marker: v.string() },
  handler: async (_ctx, { marker }) => {
    console.log('query line of', marker);
    return marker;
  },
});
`,
};

const routes = `
  - { path: /hello, method: [GET, POST], handler: "logs:hello" }
  - { path: /users/:id, method: GET, handler: "logs:hello" }
  - { pathPrefix: /files/, method: GET, handler: "logs:hello" }
  - { path: /boom, method: GET, handler: "logs:boom" }
  - { path: /chatty, method: GET, handler: "logs:chatty" }
  - { path: /via-query, method: GET, handler: "logs:viaQuery" }
`;

const requestLines = (gateway: RunningGateway, id: string) => gateway.logs().filter((line) => line.msg === 'request' && line.reqId === id);

describe('request logs', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  /** The one request line of a response, checked to be the only one. */
  async function lineOf(response: Response): Promise<LogLine> {
    const id = response.headers.get('x-request-id');
    assert.ok(id, 'the response has an x-request-id');
    const line = await gateway.waitForLog((l) => l.msg === 'request' && l.reqId === id);
    // Lines are flushed in batches: give a second line every chance to appear.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(requestLines(gateway, id).length, 1, 'exactly one request line');
    return line;
  }

  test('one JSON line per request with reqId, method, path without the query, route, handler, status and ms', async () => {
    const response = await fetch(`${gateway.url}/users/42?token=secret-value&x=1`);
    assert.equal(response.status, 200);
    await response.text();
    const line = await lineOf(response);
    assert.equal(line.reqId, response.headers.get('x-request-id'));
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/users/42');
    assert.equal(line.route, '/users/:id');
    assert.equal(line.handler, 'logs:hello');
    assert.equal(line.status, 200);
    assert.equal(typeof line.ms, 'number');
    assert.ok((line.ms as number) >= 0 && (line.ms as number) < 10_000);
    assert.equal(line.level, 30);
    assert.equal(typeof line.time, 'number');
    assert.doesNotMatch(JSON.stringify(line), /secret-value/, 'the query string is not logged');
  });

  test("the line's status and route follow what was answered: prefix, 404, 405, 500, HEAD", async () => {
    const cases: [string, RequestInit, Partial<LogLine>][] = [
      ['/files/a/b.txt', {}, { route: '/files/*', handler: 'logs:hello', status: 200, path: '/files/a/b.txt' }],
      ['/nowhere?q=1', {}, { route: null, handler: null, status: 404, path: '/nowhere' }],
      ['/users/1', { method: 'DELETE' }, { route: null, handler: null, status: 405, method: 'DELETE' }],
      ['/boom', {}, { route: '/boom', handler: 'logs:boom', status: 500 }],
      ['/hello', { method: 'HEAD' }, { route: '/hello', handler: 'logs:hello', status: 200, method: 'HEAD' }],
      ['/hello', { method: 'POST', body: 'x' }, { route: '/hello', status: 200, method: 'POST' }],
    ];
    for (const [target, init, expected] of cases) {
      const response = await fetch(gateway.url + target, init);
      await response.arrayBuffer();
      const line = await lineOf(response);
      for (const [key, value] of Object.entries(expected)) assert.equal(line[key], value, `${target}: ${key}`);
    }
  });

  test("the line's reqId is a client's well-formed X-Request-Id when it sent one", async () => {
    const response = await fetch(`${gateway.url}/hello`, { headers: { 'x-request-id': 'from-the-client-77' } });
    assert.equal(response.headers.get('x-request-id'), 'from-the-client-77');
    const line = await lineOf(response);
    assert.equal(line.reqId, 'from-the-client-77');
  });

  test('console.log, info, warn and error in a handler become lines at their level carrying the request id', async () => {
    const response = await fetch(`${gateway.url}/chatty?marker=solo`);
    assert.equal(await response.text(), 'solo');
    const id = response.headers.get('x-request-id')!;
    await lineOf(response);
    const lines = gateway.logs().filter((l) => typeof l.msg === 'string' && / line of solo( |$)/.test(l.msg));
    const byConsole = Object.fromEntries(lines.map((l) => [l.console, l]));
    assert.deepEqual(Object.keys(byConsole).sort(), ['error', 'info', 'log', 'warn']);
    assert.equal(byConsole.log!.level, 30);
    assert.equal(byConsole.info!.level, 30);
    assert.equal(byConsole.warn!.level, 40);
    assert.equal(byConsole.error!.level, 50);
    assert.equal(byConsole.error!.msg, 'error line of solo { detail: 1 }');
    for (const line of lines) {
      assert.equal(line.reqId, id);
      assert.equal(line.source, 'logs:chatty');
    }
  });

  test('under concurrency every console line carries the id of the request that wrote it', async () => {
    const count = 60;
    const responses = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const response = await fetch(`${gateway.url}/chatty?marker=m${i}x`);
        assert.equal(await response.text(), `m${i}x`);
        return { marker: `m${i}x`, id: response.headers.get('x-request-id')! };
      }),
    );
    assert.equal(new Set(responses.map((r) => r.id)).size, count, 'every request has its own id');
    await gateway.waitForLog((l) => l.msg === 'request' && l.reqId === responses.at(-1)!.id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const { marker, id } of responses) {
      const lines = gateway.logs().filter((l) => typeof l.msg === 'string' && l.msg.split(' ').includes(marker));
      assert.equal(lines.length, 4, `${marker}: four console lines`);
      for (const line of lines) assert.equal(line.reqId, id, `${marker}: "${line.msg}" carries ${line.reqId}, not ${id}`);
      assert.equal(requestLines(gateway, id).length, 1, `${marker}: one request line`);
    }
  });

  test('console output inside a query the handler runs carries the same request id', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const response = await fetch(`${gateway.url}/via-query?marker=q${i}q`);
        assert.equal(await response.text(), `q${i}q`);
        return { marker: `q${i}q`, id: response.headers.get('x-request-id')! };
      }),
    );
    for (const { marker, id } of responses) {
      const line = await gateway.waitForLog((l) => l.msg === `query line of ${marker}`);
      assert.equal(line.reqId, id, `${marker}`);
    }
  });

  test('a handler failure is logged at error level with the request id, the handler and the stack', async () => {
    const response = await fetch(`${gateway.url}/boom`);
    const id = response.headers.get('x-request-id')!;
    const line = await gateway.waitForLog((l) => l.reqId === id && l.level === 50);
    assert.equal(line.handler, 'logs:boom');
    assert.match((line.err as { stack: string }).stack, /Error: boom\n\s+at /);
  });

  test('a client that hangs up mid-body is logged at info level with status 499, not as an internal error', async () => {
    const socket = await StepSocket.connect(gateway.port);
    await socket.write('POST /api/mutation HTTP/1.1\r\nHost: x\r\nX-Request-Id: hangs-up-midway\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"path":');
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const gone = await gateway.waitForLog((l) => l.reqId === 'hangs-up-midway' && l.msg === 'client closed the connection');
    assert.equal(gone.level, 30);
    const request = await gateway.waitForLog((l) => l.reqId === 'hangs-up-midway' && l.msg === 'request');
    assert.equal(request.status, 499);
    assert.deepEqual(gateway.logs().filter((l) => l.reqId === 'hangs-up-midway' && l.level >= 50), []);
  });
});

describe('console output while modules load', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({
      'routes.yaml': routesYaml('  - { path: /hello, method: GET, handler: "noisy:hello" }'),
      'functions/noisy.ts': `
import { httpAction } from 'portico';
// Runs at import, before the gateway has a logger.
console.log('noisy module loading');
export const hello = httpAction(async () => new Response('hello'));
`,
    });
  });
  after(async () => {
    await removeProject(dir);
  });

  test("a module's top-level console.log goes to stderr: every stdout line of serve stays JSON", async () => {
    const gateway = await startGateway(dir);
    try {
      assert.equal(await (await fetch(`${gateway.url}/hello`)).text(), 'hello');
      await gateway.waitForLog((line) => line.msg === 'request');
      assert.match(gateway.stderr(), /noisy module loading/);
    } finally {
      await gateway.stop();
    }
    // startGateway parses stdout line by line; a raw line would not be JSON.
    const raw = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'validate', '-c', path.join(dir, 'routes.yaml'), '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk) => (out += chunk));
      child.once('exit', () => resolve(out));
    });
    assert.equal(JSON.parse(raw).valid, true, 'validate --format json prints only its report on stdout');
  });
});
