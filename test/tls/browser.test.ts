import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { issue, makeCa, type TestCa } from './certs.js';

// Chromium against the gateway over https, trusting only the test's own
// certificate authority (its SPKI hash; the chain is sent with server.tls.ca
// and really checked): pages load over HTTP/2, fetch and cookies work, and a
// server whose certificate comes from another authority is refused. Without
// /usr/bin/chromium the tests skip loudly; PORTICO_REQUIRE_BROWSER=1 makes
// that a failure.

const FUNCTIONS = {
  'functions/web.ts': `
import { httpAction } from 'portico';
export const page = httpAction(async () => new Response('<!doctype html><title>tls</title><p>over tls</p>', { headers: { 'content-type': 'text/html; charset=utf-8' } }));
export const echo = httpAction(async (_ctx, request) => Response.json({ got: await request.json(), url: request.url }));
export const login = httpAction(async () => new Response('in', { headers: { 'set-cookie': 'sid=s3cret; Path=/; Secure; HttpOnly; SameSite=Strict' } }));
export const whoami = httpAction(async (_ctx, request) => Response.json({ cookie: request.headers.get('cookie') }));
`,
};

const ROUTES = `
  - { path: /page, method: GET, handler: "web:page" }
  - { path: /echo, method: POST, handler: "web:echo" }
  - { path: /login, method: GET, handler: "web:login" }
  - { path: /whoami, method: GET, handler: "web:whoami" }
`;

describe('Chromium over https with a test certificate authority', () => {
  let dir: string;
  let ca: TestCa;
  let gateway: RunningGateway;
  let browser: Browser | undefined;
  let stranger: https.Server;

  before(async () => {
    dir = await makeProject(FUNCTIONS);
    ca = makeCa(path.join(dir, 'ca'));
    issue(ca, path.join(dir, 'tls'), 'server');
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(ROUTES, 'server:\n  tls: { cert: ./tls/server.crt, key: ./tls/server.key, ca: ./ca/ca.crt }\n'));
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
    // The same kind of server, certified by an authority the browser does not know.
    const other = makeCa(path.join(dir, 'other-ca'), 'Unknown CA');
    const pair = issue(other, path.join(dir, 'other'), 'server');
    stranger = https.createServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), ca: other.pem }, (_req, res) => res.end('should not be shown'));
    await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
    browser = await launchBrowser([`--ignore-certificate-errors-spki-list=${ca.spki}`]);
  });

  after(async () => {
    await closeBrowser(browser);
    await gateway?.stop();
    await new Promise((resolve) => stranger?.close(resolve));
    if (dir) await removeProject(dir);
  });

  test('a page loads over HTTP/2, and fetch and a Secure cookie work from it', async (t) => {
    if (browserMissing(t, 'the browser TLS test')) return;
    const context = await browser!.newContext({ ignoreHTTPSErrors: false });
    const page = await context.newPage();
    const origin = `https://localhost:${gateway.port}`;
    const response = await page.goto(`${origin}/page`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.textContent('p'), 'over tls');
    const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
    assert.equal(protocol, 'h2');
    const echoed = await page.evaluate(async () => (await fetch('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 1 }) })).json());
    assert.deepEqual(echoed, { got: { a: 1 }, url: `${origin}/echo` });
    const cookie = await page.evaluate(async () => {
      await fetch('/login');
      return (await fetch('/whoami')).json();
    });
    assert.deepEqual(cookie, { cookie: 'sid=s3cret' });
    await context.close();
  });

  test('a certificate from another authority is refused by the browser', async (t) => {
    if (browserMissing(t, 'the browser TLS test')) return;
    const context = await browser!.newContext({ ignoreHTTPSErrors: false });
    const page = await context.newPage();
    const port = (stranger.address() as AddressInfo).port;
    await assert.rejects(page.goto(`https://localhost:${port}/`), /ERR_CERT_AUTHORITY_INVALID|ERR_CERT/);
    await context.close();
  });
});
