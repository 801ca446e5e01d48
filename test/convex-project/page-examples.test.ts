import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ConvexHttpClient } from 'convex/browser';
import type { Browser } from 'playwright-core';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { BIN, runCli } from '../helpers/gateway.js';

// test/convex-project/convex/ is a Convex project's folder written as
// Convex's HTTP endpoints page writes its examples (postMessage,
// getMessagesByAuthor, the CORS sendImage with its own OPTIONS route),
// with `_generated` imports and no routes.yaml. `portico serve --convex
// ./convex` serves it as it is; it is used with plain HTTP, with
// ConvexHttpClient, and from Chromium on another origin.

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'convex');
const IMAGE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 3000 }, (_, i) => i % 251)]);

interface Served {
  url: string;
  port: number;
  child: ChildProcess;
  stderr(): string;
  stdout(): string;
}

/** `portico <command> --convex ./convex` in `dir`, resolved once it listens. */
function serveConvex(dir: string, env: Record<string, string>, command: 'serve' | 'dev' = 'serve'): Promise<Served> {
  const child = spawn(process.execPath, [BIN, command, '--convex', './convex', '--port', '0', '--log-format', 'json'], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portico did not start\n${stderr}`));
    }, 60_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      resolve({ url: match[1]!, port: Number(new URL(match[1]!).port), child, stderr: () => stderr, stdout: () => stdout });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`portico exited (${code}) before listening\n${stderr}`));
    });
  });
}

async function copyFixture(): Promise<string> {
  const files: Record<string, string> = {};
  for (const name of await readdir(FIXTURE)) files[`convex/${name}`] = await readFile(path.join(FIXTURE, name), 'utf8');
  return makeProject(files);
}

describe("the HTTP endpoints page's examples, served from a convex/ folder without edits", () => {
  let dir: string;
  let gateway: Served;
  let pages: http.Server;
  let clientOrigin: string;
  let browser: Browser | undefined;

  before(async () => {
    pages = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>client</title><p>a client app</p>');
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    // localhost and 127.0.0.1 are different origins: the page is on one, the gateway answers on the other.
    clientOrigin = `http://localhost:${(pages.address() as AddressInfo).port}`;
    dir = await copyFixture();
    gateway = await serveConvex(dir, { CLIENT_ORIGIN: clientOrigin });
    browser = await launchBrowser();
  });
  after(async () => {
    await closeBrowser(browser);
    gateway?.child.kill('SIGKILL');
    await new Promise((resolve) => pages?.close(resolve));
    await removeProject(dir);
  });

  test('postMessage runs the mutation "sendMessage" (a default export) from a destructured ctx', async () => {
    const posted = await fetch(`${gateway.url}/postMessage`, { method: 'POST', body: JSON.stringify({ author: 'User 123', body: 'Hello world' }) });
    assert.equal(posted.status, 200);
    assert.equal(await posted.text(), '');
  });

  test('getMessagesByAuthor runs the query "listMessages" and filters by author', async () => {
    const answer = await fetch(`${gateway.url}/getMessagesByAuthor?authorNumber=123`);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/json');
    assert.deepEqual(await answer.json(), [{ body: 'Sent via HTTP endpoint: Hello world', author: 'User 123' }]);
    const byHeader = await fetch(`${gateway.url}/getMessagesByAuthor`, { headers: { authorNumber: '123' } });
    assert.equal((await byHeader.json()).length, 1);
    const missing = await fetch(`${gateway.url}/getMessagesByAuthor`);
    assert.equal(missing.status, 400);
  });

  test('sendImage stores the request body (storage.store(request)) and runs "sendMessage:sendImage"', async () => {
    const sent = await fetch(`${gateway.url}/sendImage?author=User%20456`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: IMAGE });
    assert.equal(sent.status, 200, await sent.clone().text());
    assert.equal(sent.headers.get('access-control-allow-origin'), clientOrigin);
    assert.equal(sent.headers.get('vary'), 'origin');

    const client = new ConvexHttpClient(gateway.url);
    const messages = (await client.query('listMessages' as any, {})) as { author: string; body: string; format?: string }[];
    const image = messages.find((message) => message.author === 'User 456');
    assert.equal(image?.format, 'image');
    const file = await fetch(`${gateway.url}/api/storage/${image!.body}`);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await file.arrayBuffer()), IMAGE);
  });

  test('ConvexHttpClient calls the same functions by name', async () => {
    const client = new ConvexHttpClient(gateway.url);
    await client.mutation('sendMessage' as any, { body: 'from the client', author: 'User 789' });
    const answer = await fetch(`${gateway.url}/getMessagesByAuthor?authorNumber=789`);
    assert.deepEqual(await answer.json(), [{ body: 'from the client', author: 'User 789' }]);
  });

  test("the hand-written OPTIONS route answers a preflight, and nothing else, with the page's headers", async () => {
    const preflight = await fetch(`${gateway.url}/sendImage`, {
      method: 'OPTIONS',
      headers: { Origin: clientOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), clientOrigin);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'Content-Type, Digest');
    assert.equal(preflight.headers.get('access-control-max-age'), '86400');
    const notPreflight = await fetch(`${gateway.url}/sendImage`, { method: 'OPTIONS' });
    assert.equal(notPreflight.status, 200);
    assert.equal(notPreflight.headers.get('access-control-allow-origin'), null);
  });

  test('as in Convex, routes get no CORS of their own: an OPTIONS on a path without an OPTIONS route finds none', async () => {
    const preflight = await fetch(`${gateway.url}/postMessage`, { method: 'OPTIONS', headers: { Origin: clientOrigin, 'Access-Control-Request-Method': 'POST' } });
    assert.notEqual(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  test('from Chromium on another origin: the image goes through its preflight; postMessage, without CORS, is refused', async (t) => {
    if (browserMissing(t, 'the browser page-example test')) return;
    const page = await (await browser!.newContext()).newPage();
    await page.goto(`${clientOrigin}/`);
    const target = `http://127.0.0.1:${gateway.port}`;
    const outcome = await page.evaluate(async (target) => {
      const bytes = new Uint8Array(2000).map((_, i) => (i * 7) % 256);
      const image = await fetch(`${target}/sendImage?author=User%20321`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: new Blob([bytes], { type: 'image/png' }) });
      let post: string;
      try {
        const answer = await fetch(`${target}/postMessage`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ author: 'User 321', body: 'x' }) });
        post = `answered ${answer.status}`;
      } catch (error) {
        post = `refused: ${(error as Error).name}`;
      }
      return { imageStatus: image.status, post };
    }, target);
    assert.equal(outcome.imageStatus, 200);
    assert.equal(outcome.post, 'refused: TypeError');

    const client = new ConvexHttpClient(gateway.url);
    const messages = (await client.query('listMessages' as any, {})) as { author: string; body: string; format?: string }[];
    const image = messages.find((message) => message.author === 'User 321');
    assert.equal(image?.format, 'image');
    const file = await fetch(`${gateway.url}/api/storage/${image!.body}`);
    assert.equal((await file.arrayBuffer()).byteLength, 2000);
    assert.ok(!messages.some((message) => message.author === 'User 321' && message.format === undefined), 'the refused postMessage never reached the handler');
  });

  test('portico routes and portico validate read the same folder', async () => {
    const routes = await runCli(['routes', '--convex', './convex', '--format', 'json'], { cwd: dir });
    assert.equal(routes.code, 0, routes.stderr);
    const rows = JSON.parse(routes.stdout) as { method: string; path: string; handler: string }[];
    const listed = rows.map((row) => `${row.method} ${row.path} ${row.handler}`);
    assert.ok(listed.includes('GET /getMessagesByAuthor getMessagesByAuthor'), listed.join('\n'));
    assert.ok(listed.some((row) => /^POST \/postMessage http\.js:\d+$/.test(row)), listed.join('\n'));
    assert.ok(listed.some((row) => /^POST \/sendImage http\.js:\d+$/.test(row)));
    assert.ok(listed.some((row) => /^OPTIONS \/sendImage http\.js:\d+$/.test(row)));
    const validate = await runCli(['validate', '--convex', './convex'], { cwd: dir });
    assert.equal(validate.code, 0, validate.stdout + validate.stderr);
    assert.match(validate.stdout, /OK \(4 routes\)/);
    // Without --convex, the missing routes.yaml message points at it.
    const plain = await runCli(['validate'], { cwd: dir });
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /portico <command> --convex \.\/convex/);
  });

  test('a change to http.js is picked up by a reload', async () => {
    const file = path.join(dir, 'convex/http.js');
    const source = await readFile(file, 'utf8');
    await writeFile(file, source.replace('export default http;', 'http.route({ path: "/ping", method: "GET", handler: httpEndpoint(async () => new Response("pong")) });\nexport default http;'));
    assert.equal((await fetch(`${gateway.url}/ping`)).status, 404);
    gateway.child.kill('SIGHUP');
    const deadline = Date.now() + 30_000;
    while (!gateway.stdout().includes('"reloaded"') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await (await fetch(`${gateway.url}/ping`)).text(), 'pong');
  });
});
