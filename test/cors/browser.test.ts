import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// CORS in a real browser: a page served from one origin calls the gateway
// with fetch, and Chromium itself enforces the answers. http://localhost:P
// and http://127.0.0.1:P are different origins, so one tiny page server
// gives an allowed origin and a refused one. Without /usr/bin/chromium the
// tests skip loudly; PORTICO_REQUIRE_BROWSER=1 turns that into a failure.

const functions = {
  'functions/web.ts': `
import { httpAction } from 'portico';

export const echo = httpAction(async (_ctx, request) =>
  Response.json({ got: await request.json(), custom: request.headers.get('x-custom') }, { headers: { 'x-total': '42', 'x-hidden': 'not exposed' } }));

export const hello = httpAction(async () => new Response('hello', { headers: { 'x-total': '1' } }));

export const login = httpAction(async () =>
  new Response('logged in', { headers: { 'set-cookie': 'sid=abc123; Path=/; SameSite=Lax; HttpOnly' } }));

export const whoami = httpAction(async (_ctx, request) => Response.json({ cookie: request.headers.get('cookie') }));
`,
};

interface FetchOutcome {
  ok: boolean;
  status?: number;
  body?: string;
  total?: string | null;
  hidden?: string | null;
  error?: string;
}

describe('CORS in a real browser', () => {
  let dir: string;
  let gateway: RunningGateway;
  let pages: http.Server;
  let pagePort: number;
  let browser: Browser | undefined;

  before(async () => {
    pages = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>a client app</title><p>client</p>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagePort = (pages.address() as AddressInfo).port;

    const corsBlock = `
cors:
  origins: ["http://localhost:${pagePort}"]
  allowHeaders: [Content-Type, X-Custom]
  exposeHeaders: [x-total]
  maxAge: 5
`;
    const routes = `
  - { path: /echo, method: POST, handler: "web:echo" }
  - { path: /hello, method: GET, handler: "web:hello" }
  - { path: /public, method: GET, handler: "web:hello", cors: { origins: ["*"] } }
  - { path: /login, method: GET, handler: "web:login", cors: { credentials: true } }
  - { path: /whoami, method: GET, handler: "web:whoami", cors: { credentials: true } }
`;
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, corsBlock), ...functions });
    gateway = await startGateway(dir);
    browser = await launchBrowser();
  });
  after(async () => {
    await closeBrowser(browser);
    await gateway?.stop();
    await new Promise((resolve) => pages?.close(resolve));
    await removeProject(dir);
  });

  /** A fresh page (own cookies) at `origin`, with its console messages collected. */
  async function pageAt(origin: string): Promise<{ page: Page; console: string[] }> {
    const context = await browser!.newContext();
    const page = await context.newPage();
    const messages: string[] = [];
    page.on('console', (message) => messages.push(message.text()));
    await page.goto(`${origin}/`);
    return { page, console: messages };
  }

  /** Runs fetch inside the page and reports what the page's script could see. */
  function fetchIn(page: Page, url: string, init: RequestInit): Promise<FetchOutcome> {
    return page.evaluate(
      async ([url, init]) => {
        try {
          const response = await fetch(url, init);
          return { ok: true, status: response.status, body: await response.text(), total: response.headers.get('x-total'), hidden: response.headers.get('x-hidden') };
        } catch (error) {
          return { ok: false, error: `${(error as Error).name}: ${(error as Error).message}` };
        }
      },
      [url, init] as const,
    );
  }

  const gatewayAt = (host: string) => `http://${host}:${gateway.port}`;

  test('an allowed origin sends a JSON POST with a custom header (preflight, then the request) and reads an exposed header', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page } = await pageAt(`http://localhost:${pagePort}`);
    const outcome = await fetchIn(page, `${gatewayAt('127.0.0.1')}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'from the page' },
      body: JSON.stringify({ message: 'hi' }),
    });
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(outcome.status, 200);
    assert.deepEqual(JSON.parse(outcome.body!), { got: { message: 'hi' }, custom: 'from the page' });
    assert.equal(outcome.total, '42', 'the exposed header is readable');
    assert.equal(outcome.hidden, null, 'a header not exposed stays hidden');
    // The browser asked first.
    const preflight = await gateway.waitForLog((l) => l.msg === 'request' && l.method === 'OPTIONS' && l.path === '/echo');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.handler, '(preflight)');
    await page.context().close();
  });

  test('a disallowed origin: the preflight is refused and fetch fails with a CORS error in the page', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page, console } = await pageAt(`http://127.0.0.1:${pagePort}`);
    const outcome = await fetchIn(page, `${gatewayAt('127.0.0.1')}/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Custom': 'x' },
      body: '{}',
    });
    assert.equal(outcome.ok, false);
    assert.match(outcome.error!, /^TypeError: Failed to fetch/);
    await page.waitForTimeout(200);
    assert.ok(console.some((line) => /blocked by CORS policy/.test(line)), `console: ${console.join('\n')}`);
    const refused = await gateway.waitForLog((l) => l.msg === 'request' && l.method === 'OPTIONS' && l.path === '/echo' && l.status === 403);
    assert.equal(refused.handler, '(preflight)');
    await page.context().close();
  });

  test('a disallowed origin cannot read a simple GET either, though it reached the handler', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page, console } = await pageAt(`http://127.0.0.1:${pagePort}`);
    const outcome = await fetchIn(page, `${gatewayAt('127.0.0.1')}/hello?from=refused`, {});
    assert.equal(outcome.ok, false);
    assert.match(outcome.error!, /^TypeError: Failed to fetch/);
    await page.waitForTimeout(200);
    assert.ok(console.some((line) => /No 'Access-Control-Allow-Origin' header/.test(line)), `console: ${console.join('\n')}`);
    const reached = await gateway.waitForLog((l) => l.msg === 'request' && l.path === '/hello');
    assert.equal(reached.status, 200);
    await page.context().close();
  });

  test('the allowed origin reads the same simple GET', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page } = await pageAt(`http://localhost:${pagePort}`);
    const outcome = await fetchIn(page, `${gatewayAt('127.0.0.1')}/hello`, {});
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(outcome.body, 'hello');
    assert.equal(outcome.total, '1');
    await page.context().close();
  });

  test('credentials mode: a route with credentials: true sets a cookie and gets it back', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page } = await pageAt(`http://localhost:${pagePort}`);
    // Same site (localhost), another origin (port): a SameSite=Lax cookie flows with credentials: 'include'.
    const login = await fetchIn(page, `${gatewayAt('localhost')}/login`, { credentials: 'include' });
    assert.equal(login.ok, true, login.error);
    assert.equal(login.body, 'logged in');
    const who = await fetchIn(page, `${gatewayAt('localhost')}/whoami`, { credentials: 'include' });
    assert.equal(who.ok, true, who.error);
    assert.deepEqual(JSON.parse(who.body!), { cookie: 'sid=abc123' });
    const anonymous = await fetchIn(page, `${gatewayAt('localhost')}/whoami`, { credentials: 'omit' });
    assert.deepEqual(JSON.parse(anonymous.body!), { cookie: null });
    await page.context().close();
  });

  test('credentials mode fails against a route whose policy does not allow credentials', async (t) => {
    if (browserMissing(t, 'the browser CORS test')) return;
    const { page, console } = await pageAt(`http://localhost:${pagePort}`);
    for (const path of ['/public', '/hello']) {
      const outcome = await fetchIn(page, `${gatewayAt('localhost')}${path}`, { credentials: 'include' });
      assert.equal(outcome.ok, false, `${path} was readable with credentials`);
      assert.match(outcome.error!, /^TypeError: Failed to fetch/);
    }
    await page.waitForTimeout(200);
    assert.ok(console.some((line) => /credentials mode is 'include'/.test(line)), `console: ${console.join('\n')}`);
    // Without credentials the public route is readable from here.
    const open = await fetchIn(page, `${gatewayAt('localhost')}/public`, {});
    assert.equal(open.ok, true, open.error);
    await page.context().close();
  });
});
