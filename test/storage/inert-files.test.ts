import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// Regression: stored files ran script on the gateway's origin. Files are
// served from /api/storage/<id> on the app's own origin with the uploader's
// Content-Type, so an uploaded HTML or SVG page with a <script> could read
// the app's cookies and localStorage and call the app's endpoints. In a real
// Chromium: a page of the app sets a cookie and localStorage, then an
// uploaded page whose script tries to steal both (fetch, an image, a beacon
// to /steal) is opened, directly and in a frame. Nothing may reach /steal,
// and the page must not be readable from the app's origin. Without
// /usr/bin/chromium the tests skip loudly; PORTICO_REQUIRE_BROWSER=1 turns
// that into a failure.

const ADMIN_KEY = 'inert-files-admin-key-0123456789';
const COOKIE = 'cookie-s3cret';
const LOCAL = 'local-s3cret';

const functions = {
  'functions/app.ts': `
import { httpAction } from 'portico';

// What reached /steal, kept in this process for the test to read.
const stolen: string[] = [];

export const page = httpAction(async () => new Response(
  '<!doctype html><title>the app</title><script>localStorage.setItem("secret", "${LOCAL}")</script><p>app</p>',
  { headers: { 'content-type': 'text/html; charset=utf-8', 'set-cookie': 'secret=${COOKIE}; Path=/; SameSite=Lax' } },
));

export const steal = httpAction(async (_ctx, request) => {
  stolen.push(request.method + ' ' + request.url + ' ' + (request.headers.get('cookie') ?? '') + ' ' + (await request.text()));
  return new Response('thanks');
});

export const loot = httpAction(async () => Response.json(stolen));
`,
};

const routes = `
  - { path: /app, method: GET, handler: "app:page" }
  - { path: /steal, method: [GET, POST], handler: "app:steal" }
  - { path: /loot, method: GET, handler: "app:loot" }
`;

// Reports what it could reach, in the DOM and to /steal by three routes.
const HOSTILE_HTML = `<!doctype html><html><body><p>uploaded page</p><script>
const report = { origin: self.origin };
try { report.cookie = document.cookie; } catch (e) { report.cookie = 'blocked: ' + e.name; }
try { report.local = localStorage.getItem('secret'); } catch (e) { report.local = 'blocked: ' + e.name; }
document.body.setAttribute('data-report', JSON.stringify(report));
const data = encodeURIComponent(JSON.stringify(report));
fetch('/steal?via=fetch', { method: 'POST', body: JSON.stringify(report) }).catch(() => {});
new Image().src = '/steal?via=img&data=' + data;
try { navigator.sendBeacon('/steal?via=beacon', JSON.stringify(report)); } catch {}
</script></body></html>`;

const HOSTILE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>
fetch('/steal?via=svg', { method: 'POST', body: document.cookie + '|' + localStorage.getItem('secret') }).catch(() => {});
</script><rect width="10" height="10"/></svg>`;

async function upload(gateway: RunningGateway, body: string, contentType: string): Promise<string> {
  const response = await fetch(`${gateway.url}/api/storage/upload`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType, authorization: `Convex ${ADMIN_KEY}` },
  });
  assert.equal(response.status, 200);
  return `${gateway.url}/api/storage/${(await response.json()).storageId}`;
}

/** What reached /steal, after giving a running script time to send it. */
async function loot(gateway: RunningGateway): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return (await fetch(`${gateway.url}/loot`)).json();
}

describe("stored files never run script on the gateway's origin (real Chromium)", () => {
  const dirs: string[] = [];
  const gateways: RunningGateway[] = [];
  let browser: Browser | undefined;
  let strict: RunningGateway;
  let permissive: RunningGateway;

  before(async () => {
    const settings = (extra: string) => `api: { adminKey: ${ADMIN_KEY} }\n${extra}`;
    for (const extra of ['', 'storage: { kind: fs, dir: ./.data/storage, inlineTypes: [text/html, image/svg+xml] }']) {
      const yaml = routesYaml(routes, settings(extra));
      // The helper's storage line is replaced when the test brings its own.
      const dir = await makeProject({ 'routes.yaml': extra ? yaml.replace('storage: { kind: fs, dir: ./.data/storage }\n', '') : yaml, ...functions });
      dirs.push(dir);
      gateways.push(await startGateway(dir, { timeoutMs: 60_000 }));
    }
    [strict, permissive] = gateways as [RunningGateway, RunningGateway];
    browser = await launchBrowser();
  });
  after(async () => {
    await closeBrowser(browser);
    for (const gateway of gateways) await gateway.stop();
    for (const dir of dirs) await removeProject(dir);
  });

  /** A browser profile that has visited the app: its cookie and localStorage are set. */
  async function visitedApp(gateway: RunningGateway): Promise<BrowserContext> {
    const context = await browser!.newContext({ acceptDownloads: true });
    const page = await context.newPage();
    await page.goto(`${gateway.url}/app`);
    assert.equal(await page.evaluate(() => localStorage.getItem('secret')), LOCAL);
    assert.match(await page.evaluate(() => document.cookie), new RegExp(COOKIE));
    return context;
  }

  test('by default an uploaded HTML page is downloaded, not rendered: its script never runs', { timeout: 60_000 }, async (t) => {
    if (browserMissing(t, 'the browser storage test')) return;
    const url = await upload(strict, HOSTILE_HTML, 'text/html; charset=utf-8');
    const context = await visitedApp(strict);
    try {
      const page = context.pages()[0]!;
      const download = page.waitForEvent('download', { timeout: 10_000 });
      // A link the user follows, as an app would render one.
      await page.evaluate((href) => {
        const link = document.createElement('a');
        link.href = href;
        link.textContent = 'open';
        document.body.append(link);
        link.click();
      }, url);
      await download;
      assert.equal(new URL(page.url()).pathname, '/app', 'the page stayed on the app');
      assert.deepEqual(await loot(strict), []);
    } finally {
      await context.close();
    }
  });

  test('an SVG opened in a frame of the app is not rendered there either', { timeout: 60_000 }, async (t) => {
    if (browserMissing(t, 'the browser storage test')) return;
    const url = await upload(strict, HOSTILE_SVG, 'image/svg+xml');
    const context = await visitedApp(strict);
    try {
      const page = context.pages()[0]!;
      await page.evaluate((src) => {
        const frame = document.createElement('iframe');
        frame.src = src;
        document.body.append(frame);
      }, url);
      assert.deepEqual(await loot(strict), []);
      // Not a document of the app's origin.
      assert.equal(await page.evaluate(() => document.querySelector('iframe')!.contentDocument?.querySelector('svg') ?? null), null);
    } finally {
      await context.close();
    }
  });

  test('an HTML page the config allows inline renders sandboxed: no script, no access to the origin, nothing sent', { timeout: 60_000 }, async (t) => {
    if (browserMissing(t, 'the browser storage test')) return;
    const url = await upload(permissive, HOSTILE_HTML, 'text/html');
    const context = await visitedApp(permissive);
    try {
      const page = await context.newPage();
      const response = await page.goto(url);
      assert.equal(response!.status(), 200);
      assert.equal(await page.textContent('p'), 'uploaded page', 'the page was rendered');
      // The script did not run, and could not have reached anything if it had.
      assert.equal(await page.evaluate(() => document.body.getAttribute('data-report')), null);
      assert.equal(await page.evaluate(() => self.origin), 'null', 'the document has an opaque origin');
      assert.deepEqual(await loot(permissive), []);

      // Framed by the app, its document is not the app's to read.
      const app = context.pages()[0]!;
      await app.evaluate((src) => new Promise<void>((resolve) => {
        const frame = document.createElement('iframe');
        frame.onload = () => resolve();
        frame.src = src;
        document.body.append(frame);
      }), url);
      assert.equal(await app.evaluate(() => document.querySelector('iframe')!.contentDocument), null);
      assert.deepEqual(await loot(permissive), []);
    } finally {
      await context.close();
    }
  });

  test('an SVG the config allows inline renders without running its script', { timeout: 60_000 }, async (t) => {
    if (browserMissing(t, 'the browser storage test')) return;
    const url = await upload(permissive, HOSTILE_SVG, 'image/svg+xml');
    const context = await visitedApp(permissive);
    try {
      const page = await context.newPage();
      const response = await page.goto(url);
      assert.equal(response!.status(), 200);
      assert.equal(response!.headers()['content-disposition'], 'inline');
      assert.deepEqual(await loot(permissive), []);
    } finally {
      await context.close();
    }
  });
});
