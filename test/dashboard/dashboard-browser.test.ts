import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, ROOT } from '../helpers/project.js';

// The dashboard in a real Chromium, against the example app (its own
// routes.yaml and functions/, plus an admin key and one probe module):
// log in, see the routes and functions, run a mutation and find its
// document in the Data view, see a request's lines in the Logs view within
// a second, filter, open a request id, and check that hostile text in a
// log line, a document and a file stays text. PORTICO_SCREENSHOTS=1 saves
// each view's picture in docs/dashboard/.

const ADMIN_KEY = 'dashboard-admin-key-0123456789';
/** Would run script if it were ever parsed as HTML. */
const HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
const SCREENSHOTS = path.join(ROOT, 'docs', 'dashboard');

const PROBE = `
import { action, v } from 'portico';
export const shout = action({ args: { text: v.string() }, handler: async (_ctx, { text }) => { console.log(text); console.warn('second line', text.length); return text.length; } });
export const keep = action({ args: { text: v.string() }, handler: async (ctx, { text }) => ctx.storage.store(new Blob([text], { type: 'text/html' })) });
`;

/** The example app as a project: its routes.yaml with an admin key, its functions, and the probe. */
async function exampleApp(): Promise<string> {
  const files: Record<string, string> = {};
  const routes = await readFile(path.join(ROOT, 'routes.yaml'), 'utf8');
  files['routes.yaml'] = routes.replace(/^routes:/m, `api: { adminKey: ${ADMIN_KEY} }\n\nroutes:`);
  for (const name of await readdir(path.join(ROOT, 'functions'))) files[`functions/${name}`] = await readFile(path.join(ROOT, 'functions', name), 'utf8');
  files['functions/probe.ts'] = PROBE;
  return makeProject(files);
}

/** What curl would do: one request on its own connection. */
function curl(url: string, body?: unknown): Promise<{ status: number; body: string; requestId: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: body === undefined ? 'GET' : 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: text, requestId: String(response.headers['x-request-id']) }));
    });
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Every view is drawn; with PORTICO_SCREENSHOTS=1 the pictures are saved to docs/dashboard/. */
async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ fullPage: true, ...(process.env.PORTICO_SCREENSHOTS === '1' ? { path: path.join(SCREENSHOTS, `${name}.png`) } : {}) });
}

async function nothingRan(page: Page): Promise<void> {
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'no hostile script ran');
  assert.equal(await page.locator('main img, main script').count(), 0, 'no hostile element was created');
}

describe('the dashboard in Chromium', () => {
  let dir: string;
  let gateway: RunningGateway;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];

  before(async () => {
    dir = await exampleApp();
    gateway = await startGateway(dir);
    browser = await launchBrowser();
    if (browser) {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      page = await context.newPage();
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
      });
      page.on('dialog', (dialog) => void dialog.accept());
    }
  });
  after(async () => {
    await closeBrowser(browser);
    await gateway?.stop();
    await removeProject(dir);
  });

  test('a wrong key is refused; the admin key logs in with an HttpOnly, SameSite=Strict session', async (t) => {
    if (browserMissing(t, 'the dashboard browser test')) return;
    const response = await page.goto(`${gateway.url}/_portico/dashboard`);
    assert.match(response!.headers()['content-security-policy']!, /default-src 'none'; script-src 'self'/);
    await page.locator('#login').waitFor();
    await screenshot(page, 'login');
    await page.fill('#key', 'not-the-admin-key');
    await page.click('#login-form button');
    await page.locator('#login-error', { hasText: 'That is not the admin key.' }).waitFor();
    assert.equal(await page.locator('#tabs').isVisible(), false);
    assert.deepEqual(await context.cookies(), []);

    await page.fill('#key', ADMIN_KEY);
    await page.click('#login-form button');
    await page.locator('#tabs').waitFor();
    const [cookie] = await context.cookies();
    assert.equal(cookie!.name, 'portico_dashboard');
    assert.equal(cookie!.httpOnly, true);
    assert.equal(cookie!.sameSite, 'Strict');
    assert.equal(cookie!.path, '/_portico/dashboard');
  });

  test('the Functions view lists the example app\'s routes and functions, and runs a mutation whose document the Data view shows', async (t) => {
    if (browserMissing(t, 'the dashboard browser test')) return;
    await curl(`${gateway.url}/getMessagesByAuthor?author=ada`);
    await page.click('#tabs button[data-view="functions"]');
    const routes = page.locator('#routes tbody');
    await routes.locator('tr', { hasText: '/postMessage' }).first().waitFor();
    for (const text of ['/getMessagesByAuthor', '/getAuthorMessages/*', 'messages:getByAuthorPath', '/users/:id', '(CORS preflight)']) {
      assert.ok((await routes.textContent())!.includes(text), `the routes list ${text}`);
    }
    const functions = await page.locator('#functions tbody').textContent();
    for (const text of ['messages:sendMessage', 'messages:listByAuthor', 'probe:shout', '{author: string, body: string}', '"required"']) assert.ok(functions!.includes(text), `the functions list ${text}`);
    // The request just sent is on its route's chart (the table may still
    // show the rows drawn before it, until the view's refresh lands).
    await routes.locator('tr:not(.generated)', { hasText: '/getMessagesByAuthor' }).filter({ hasText: /1 calls, 0 errors/ }).first().waitFor({ timeout: 10_000 });

    await page.selectOption('#run-name', 'mutation|messages:sendMessage');
    await page.fill('#run-args', JSON.stringify({ author: 'dashboard', body: HOSTILE }));
    await page.click('#run-go');
    await page.locator('#run-result', { hasText: 'Success' }).waitFor();
    const id = JSON.parse((await page.locator('#run-result').textContent())!.replace('Success:\n', '')) as string;
    await screenshot(page, 'functions');

    await page.click('#tabs button[data-view="data"]');
    await page.locator('#tables button', { hasText: 'messages' }).click();
    const row = page.locator('#documents tbody tr', { hasText: id });
    await row.waitFor();
    // Fields are shown as JSON: the text, quotes escaped, and no markup.
    assert.ok((await row.textContent())!.includes(JSON.stringify(HOSTILE).slice(1, -1)), 'the document shows its hostile text as text');
    await row.locator('button.reqid').click();
    await page.locator('#document', { hasText: '"_table": "messages"' }).waitFor();
    await screenshot(page, 'data');

    // By an index, with equality on its first field.
    await page.selectOption('#index-name', 'by_author');
    await page.fill('#index-eq', '["nobody"]');
    await page.click('#index-form button');
    await page.waitForFunction(() => document.querySelectorAll('#documents tbody tr').length === 0);
    await page.fill('#index-eq', '["dashboard"]');
    await page.click('#index-form button');
    await row.waitFor();
    assert.equal(await page.locator('#documents tbody tr').count(), 1);

    // Delete, after the confirmation (accepted by the dialog handler).
    const count = async () => Number(/(\d+) documents/.exec((await page.locator('#tables li', { hasText: 'messages' }).textContent())!)![1]);
    const before = await count();
    await row.locator('button.delete').click();
    await row.waitFor({ state: 'detached' });
    await page.waitForFunction((n) => /(\d+) documents/.exec([...document.querySelectorAll('#tables li')].find((li) => li.textContent!.startsWith('messages'))!.textContent!)![1] === String(n), before - 1);
    await nothingRan(page);
  });

  test('a request sent with curl shows in the Logs view within a second; filters and a request id narrow it; hostile text stays text', async (t) => {
    if (browserMissing(t, 'the dashboard browser test')) return;
    await page.click('#tabs button[data-view="logs"]');
    await page.locator('#log-lines tbody tr').first().waitFor();
    const sent = await curl(`${gateway.url}/api/action`, { path: 'probe:shout', args: { text: HOSTILE }, format: 'json' });
    assert.equal(sent.status, 200);
    const started = Date.now();
    await page.locator('#log-lines tbody tr', { hasText: HOSTILE }).first().waitFor({ timeout: 5000 });
    const waited = Date.now() - started;
    assert.ok(waited < 1000, `the line appeared after ${waited} ms`);
    await nothingRan(page);

    // Filter by function: only the probe's lines.
    await page.fill('#log-function', 'probe:shout');
    await page.waitForFunction(() => [...document.querySelectorAll('#log-lines tbody tr')].every((tr) => tr.textContent!.includes('probe:shout')));
    assert.ok((await page.locator('#log-lines tbody tr').count()) >= 2);
    await page.fill('#log-exclude', 'probe');
    await page.waitForFunction(() => document.querySelectorAll('#log-lines tbody tr').length === 0);
    await page.fill('#log-exclude', '');
    await page.fill('#log-function', '');

    // A request id shows every line of that request: the request line and both console lines.
    await page.locator('#log-lines tbody tr', { hasText: HOSTILE }).first().locator('button.reqid').click();
    await page.locator('#log-request-id', { hasText: sent.requestId }).waitFor();
    const rows = page.locator('#log-lines tbody tr');
    await page.waitForFunction(() => document.querySelectorAll('#log-lines tbody tr').length === 3);
    for (const text of await rows.allTextContents()) assert.ok(text.includes(sent.requestId));
    assert.ok((await rows.allTextContents()).some((text) => text.includes('POST /api/action')));
    await screenshot(page, 'logs');
    await page.click('#log-request-clear');

    // Pause holds the view; resume brings the lines that came meanwhile.
    await page.click('#log-pause');
    await curl(`${gateway.url}/getMessagesByAuthor?author=paused`);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(await page.locator('#log-lines tbody tr', { hasText: 'author=paused' }).count(), 0);
    assert.equal(await page.locator('#log-lines tbody tr', { hasText: '/getMessagesByAuthor' }).count() >= 0, true);
    await page.click('#log-pause');
    await page.locator('#log-lines tbody tr', { hasText: 'GET /getMessagesByAuthor' }).nth(1).waitFor({ timeout: 2000 });

    // The history survives a page reload.
    await page.reload();
    await page.locator('#log-lines tbody tr', { hasText: HOSTILE }).first().waitFor({ timeout: 3000 });
    await nothingRan(page);
  });

  test('the Files view lists a stored file with its metadata, downloads and deletes it; the Health view shows the deployment', async (t) => {
    if (browserMissing(t, 'the dashboard browser test')) return;
    const stored = await curl(`${gateway.url}/api/action`, { path: 'probe:keep', args: { text: HOSTILE }, format: 'json' });
    const storageId = (JSON.parse(stored.body) as { value: string }).value;
    await page.click('#tabs button[data-view="files"]');
    const row = page.locator('#files tbody tr', { hasText: storageId });
    await row.waitFor();
    const text = (await row.textContent())!;
    assert.ok(text.includes(String(Buffer.byteLength(HOSTILE))) && text.includes('text/html'));
    await screenshot(page, 'files');
    const [download] = await Promise.all([page.waitForEvent('download'), row.locator('a', { hasText: 'Download' }).click()]);
    const saved = await download.path();
    assert.equal(await readFile(saved!, 'utf8'), HOSTILE);
    await row.locator('button.delete').click();
    await page.locator('#files tbody tr', { hasText: storageId }).waitFor({ state: 'detached' });

    await page.click('#tabs button[data-view="health"]');
    await page.locator('#health dd').first().waitFor();
    const health = (await page.locator('#health').textContent())!;
    assert.ok(health.includes('local (sqlite)'));
    assert.match((await page.locator('#reloads').textContent())!, /portico listening/);
    await screenshot(page, 'health');
    await nothingRan(page);
    assert.deepEqual(cspViolations, [], 'the page itself never trips its own policy');
  });
});
