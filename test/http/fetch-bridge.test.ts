import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { parseHead, StepSocket } from '../helpers/socket.js';

// The Fetch bridge over a real socket: the WHATWG Request a handler gets
// (URL, headers, body in every reading, signal, proxying) and how the
// Response it returns is written back (status, headers, cookies, streams,
// blobs, empty bodies, errors, x-request-id).

const functions = {
  'functions/bridge.ts': `
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { ConvexError, httpAction } from 'portico';

const sha = (bytes: ArrayBuffer | Uint8Array) => createHash('sha256').update(new Uint8Array(bytes)).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const describeRequest = httpAction(async (_ctx, request) =>
  Response.json({
    url: request.url,
    method: request.method,
    headers: [...request.headers],
    multi: request.headers.get('x-multi'),
    bodyIsNull: request.body === null,
    isRequest: request instanceof Request,
  }));

// POST /read/:how: the body read one way.
export const read = httpAction(async (ctx, request) => {
  switch (ctx.params.how) {
    case 'text': return Response.json({ text: await request.text() });
    case 'json': return Response.json({ json: await request.json() });
    case 'arrayBuffer': {
      const buffer = await request.arrayBuffer();
      return Response.json({ isArrayBuffer: buffer instanceof ArrayBuffer, length: buffer.byteLength, sha: sha(buffer) });
    }
    case 'bytes': {
      const bytes = await request.bytes();
      return Response.json({ isUint8Array: bytes instanceof Uint8Array, length: bytes.byteLength, sha: sha(bytes) });
    }
    case 'blob': {
      const blob = await request.blob();
      return Response.json({ isBlob: blob instanceof Blob, size: blob.size, type: blob.type, sha: sha(await blob.arrayBuffer()) });
    }
    case 'stream': {
      const reader = request.body!.getReader();
      const chunks: Uint8Array[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
      const all = Buffer.concat(chunks);
      return Response.json({ length: all.length, sha: sha(all) });
    }
    case 'formData': {
      const form = await request.formData();
      const entries = [];
      for (const [name, value] of form) {
        if (typeof value === 'string') entries.push({ name, value });
        else entries.push({ name, file: value.name, type: value.type, size: value.size, sha: sha(await value.arrayBuffer()) });
      }
      return Response.json({ entries });
    }
    case 'touchThenRead': {
      const touched = request.body !== null;
      const usedAfterTouch = request.bodyUsed;
      const text = await request.text();
      return Response.json({ touched, usedAfterTouch, text, usedAfterRead: request.bodyUsed });
    }
    case 'clone': {
      const copy = request.clone();
      const [fromCopy, fromOriginal] = await Promise.all([copy.text(), request.text()]);
      return Response.json({ fromCopy, fromOriginal, copyIsRequest: copy instanceof Request });
    }
    case 'afterRead': {
      await request.text();
      let body = 'no error';
      let copy = 'no error';
      try {
        body = request.body === null ? 'null' : 'a stream';
      } catch (error) {
        body = (error as Error).name;
      }
      try {
        new Request(request);
      } catch (error) {
        copy = (error as Error).name;
      }
      return Response.json({ body, copy, bodyUsed: request.bodyUsed });
    }
    case 'twice': {
      const first = await request.text();
      const outcomes: string[] = [];
      for (const again of [() => request.text(), () => request.arrayBuffer(), () => request.json()]) {
        try {
          await again();
          outcomes.push('read again');
        } catch (error) {
          outcomes.push((error as Error).name);
        }
      }
      return Response.json({ first, outcomes, bodyUsed: request.bodyUsed });
    }
  }
  return new Response('unknown reading', { status: 400 });
});

// GET, HEAD, OPTIONS: what the handler sees of a body (in headers, so HEAD shows it too).
export const noBody = httpAction(async (_ctx, request) => {
  const isNull = request.body === null;
  const text = await request.text();
  return new Response('seen', { headers: { 'x-body-null': String(isNull), 'x-text-length': String(text.length), 'x-method': request.method } });
});

// Waits for request.signal (touched at once), then records what it saw.
export const waitForAbort = httpAction(async (_ctx, request) => {
  const tag = new URL(request.url).searchParams.get('tag');
  const signal = request.signal;
  await writeFile('started-' + tag, '');
  const reason: any = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
  // The handler goes on running after the abort.
  await sleep(50);
  await writeFile('aborted-' + tag + '.json', JSON.stringify({ aborted: signal.aborted, name: reason?.name }));
  return new Response('nobody is listening');
});

// Touches request.signal only after the client has gone.
export const lateSignal = httpAction(async (_ctx, request) => {
  const tag = new URL(request.url).searchParams.get('tag');
  await writeFile('started-' + tag, '');
  for (let i = 0; i < 200 && !existsSync('gone-' + tag); i++) await sleep(25);
  await sleep(200);
  await writeFile('aborted-' + tag + '.json', JSON.stringify({ aborted: request.signal.aborted, name: request.signal.reason?.name }));
  return new Response('late');
});

export const copy = httpAction(async (_ctx, request) => {
  const copied = new Request(request);
  return Response.json({
    isRequest: copied instanceof Request,
    url: copied.url,
    method: copied.method,
    custom: copied.headers.get('x-custom'),
    body: copied.method === 'GET' ? null : await copied.text(),
  });
});

// Proxies to whatever Host the client named: fetch(request) as is.
export const proxy = httpAction(async (_ctx, request) => fetch(request));

// Proxies with a new URL and the original request as init (the Workers idiom).
export const proxyTo = httpAction(async (_ctx, request) => {
  const target = request.headers.get('x-upstream')!;
  const url = new URL(request.url);
  return fetch(new Request(target + url.pathname + url.search, request));
});

export const status = httpAction(async () => {
  const headers = new Headers([['x-one', '1'], ['x-two', 'two']]);
  headers.append('x-multi', 'a');
  headers.append('x-multi', 'b');
  return new Response('short and stout', { status: 418, statusText: "I'm a teapot", headers });
});

export const cookies = httpAction(async (ctx) => {
  switch (ctx.params.how) {
    case 'headers': {
      const headers = new Headers();
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; HttpOnly');
      headers.append('set-cookie', 'c=3, with a comma; Max-Age=60');
      return new Response('cookies', { headers });
    }
    case 'array':
      return new Response('cookies', { headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['Set-Cookie', 'c=3, with a comma']] });
    case 'appended': {
      const response = new Response('cookies');
      response.headers.append('set-cookie', 'a=1');
      response.headers.append('set-cookie', 'b=2');
      response.headers.append('set-cookie', 'c=3, with a comma');
      return response;
    }
  }
  return new Response('unknown', { status: 400 });
});

// A stream that sends its first chunk, then waits for GET /release?key=.
const releases = new Map<string, () => void>();
export const stream = httpAction(async (_ctx, request) => {
  const key = new URL(request.url).searchParams.get('key')!;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode('first chunk;'));
      await new Promise<void>((resolve) => releases.set(key, resolve));
      controller.enqueue(encoder.encode('second chunk;'));
      await sleep(20);
      controller.enqueue(encoder.encode('last chunk'));
      controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/plain', 'x-streamed': 'yes' } });
});
export const release = httpAction(async (_ctx, request) => {
  const key = new URL(request.url).searchParams.get('key')!;
  const resolve = releases.get(key);
  if (!resolve) return new Response('not waiting', { status: 409 });
  releases.delete(key);
  resolve();
  return new Response('released');
});

// A stream that fails after its first chunk.
export const brokenStream = httpAction(async () => {
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      controller.enqueue(new TextEncoder().encode('a good start;'));
      await sleep(30);
      controller.error(new Error('the source failed'));
    },
  });
  return new Response(body);
});

export const json = httpAction(async () => Response.json({ hello: 'world', n: [1, 2] }, { status: 201, headers: { 'x-json': 'yes' } }));

// Deterministic bytes of ?size=N, so the test can compute the same digest.
const pattern = (size: number) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919 + (i >> 8)) & 255;
  return bytes;
};
export const blob = httpAction(async (_ctx, request) => {
  const size = Number(new URL(request.url).searchParams.get('size'));
  return new Response(new Blob([pattern(size)], { type: 'application/x-pattern' }));
});
export const bytes = httpAction(async (_ctx, request) => {
  const size = Number(new URL(request.url).searchParams.get('size'));
  return new Response(pattern(size), { headers: { 'content-type': 'application/octet-stream' } });
});

export const empty = httpAction(async (ctx) => {
  switch (ctx.params.kind) {
    case 'null': return new Response(null);
    case 'null201': return new Response(null, { status: 201, headers: { 'x-created': 'yes' } });
    case '204': return new Response(null, { status: 204, headers: { 'x-empty': 'yes' } });
    case '304': return new Response(null, { status: 304, headers: { etag: '"v1"' } });
  }
  return new Response('unknown', { status: 400 });
});

export const fail = httpAction(async (ctx) => {
  switch (ctx.params.how) {
    case 'throw': throw new Error('kaboom');
    case 'throwSync': return (() => { throw new TypeError('synchronous trouble'); })();
    case 'convex': throw new ConvexError({ reason: 'quota', left: 0 });
    case 'notResponse': return { hello: 'world' } as any;
    case 'undefined': return undefined as any;
  }
  return new Response('unknown', { status: 400 });
});
`,
};

const routes = `
  - { path: /describe, method: [GET, POST, PUT], handler: "bridge:describeRequest" }
  - { path: /read/:how, method: [POST, PUT, PATCH, DELETE], handler: "bridge:read", bodyLimit: 8mb }
  - { path: /nobody, method: [GET, OPTIONS], handler: "bridge:noBody" }
  - { path: /abort, method: [GET, POST], handler: "bridge:waitForAbort" }
  - { path: /late-signal, method: GET, handler: "bridge:lateSignal" }
  - { path: /copy, method: [GET, POST], handler: "bridge:copy" }
  - { pathPrefix: /proxy/, method: [GET, POST], handler: "bridge:proxy" }
  - { pathPrefix: /proxy-to/, method: [GET, POST], handler: "bridge:proxyTo" }
  - { path: /status, method: GET, handler: "bridge:status" }
  - { path: /cookies/:how, method: GET, handler: "bridge:cookies" }
  - { path: /stream, method: GET, handler: "bridge:stream" }
  - { path: /release, method: GET, handler: "bridge:release" }
  - { path: /json, method: GET, handler: "bridge:json" }
  - { path: /broken-stream, method: GET, handler: "bridge:brokenStream" }
  - { path: /blob, method: GET, handler: "bridge:blob" }
  - { path: /bytes, method: GET, handler: "bridge:bytes" }
  - { path: /empty/:kind, method: GET, handler: "bridge:empty" }
  - { path: /fail/:how, method: GET, handler: "bridge:fail" }
`;

const sha256 = (bytes: Uint8Array | ArrayBuffer) => createHash('sha256').update(new Uint8Array(bytes)).digest('hex');

function pattern(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919 + (i >> 8)) & 255;
  return bytes;
}

/** A request through node:http, where fetch would not let the test set Host or disconnect at will. */
function nodeRequest(
  port: number,
  options: http.RequestOptions & { body?: string | Buffer },
): Promise<{ status: number; statusText: string; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, statusText: res.statusMessage!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function waitForFile(file: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${path.basename(file)} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // The writer may still be writing.
  await new Promise((resolve) => setTimeout(resolve, 25));
  return readFile(file, 'utf8');
}

describe('the Fetch bridge', () => {
  let dir: string;
  let gateway: RunningGateway;
  let upstream: http.Server;
  let upstreamUrl: string;

  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir);
    // What a proxying handler forwards to: it echoes what it received.
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(201, 'Made Upstream', [
          ['content-type', 'application/json'],
          ['set-cookie', 'up1=1'],
          ['set-cookie', 'up2=2'],
          ['x-upstream', 'yes'],
        ].flat());
        res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, custom: req.headers['x-custom'], length: body.length, sha: sha256(body) }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(async () => {
    await gateway?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
    await removeProject(dir);
  });

  describe('the Request a handler receives', () => {
    test('its url is absolute: host from Host, path and query string kept', async () => {
      const { body } = await nodeRequest(gateway.port, { path: '/describe?x=1&y=a%20b', headers: { host: 'api.example.test:8443' } });
      const seen = JSON.parse(body.toString());
      assert.equal(seen.url, 'http://api.example.test:8443/describe?x=1&y=a%20b');
      assert.equal(seen.method, 'GET');
      assert.equal(seen.isRequest, true);
    });

    test('its url ignores X-Forwarded-Proto unless server.trustProxy trusts the sender (test/http/trust-proxy.test.ts)', async () => {
      const { body } = await nodeRequest(gateway.port, { path: '/describe?q', headers: { host: 'api.example.test', 'x-forwarded-proto': 'https' } });
      assert.equal(JSON.parse(body.toString()).url, 'http://api.example.test/describe?q');
    });

    test('it carries every header, repeated ones included', async () => {
      const socket = await StepSocket.connect(gateway.port);
      await socket.write(
        'GET /describe HTTP/1.1\r\nHost: h.test\r\nX-Custom: value with  spaces\r\nX-Multi: one\r\nX-Multi: two\r\nAccept: a/b\r\nCookie: k=v\r\nConnection: close\r\n\r\n',
      );
      const { text } = await socket.untilClosed();
      const head = parseHead(text);
      assert.equal(head.status, 200);
      const seen = JSON.parse(head.rest.slice(0));
      const headers = new Map<string, string>(seen.headers);
      assert.equal(headers.get('x-custom'), 'value with  spaces');
      assert.equal(seen.multi, 'one, two');
      assert.equal(headers.get('accept'), 'a/b');
      assert.equal(headers.get('cookie'), 'k=v');
      assert.equal(headers.get('host'), 'h.test');
      assert.equal(headers.get('connection'), 'close');
    });

    test('a binary body arrives byte-exact (sha256 of random bytes) through arrayBuffer, bytes, blob and the stream', async () => {
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      for (const how of ['arrayBuffer', 'bytes', 'blob', 'stream']) {
        const response = await fetch(`${gateway.url}/read/${how}`, { method: 'POST', body: payload, headers: { 'content-type': 'application/x-random' } });
        assert.equal(response.status, 200, how);
        const seen = await response.json();
        assert.equal(seen.sha, sha256(payload), `${how}: digest`);
        assert.equal(seen.length ?? seen.size, payload.length, `${how}: length`);
        if (how === 'arrayBuffer') assert.equal(seen.isArrayBuffer, true);
        if (how === 'bytes') assert.equal(seen.isUint8Array, true);
        if (how === 'blob') {
          assert.equal(seen.isBlob, true);
          assert.equal(seen.type, 'application/x-random');
        }
      }
    });

    test('a chunked binary body arrives byte-exact', async () => {
      const payload = randomBytes(200_000);
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: gateway.port, path: '/read/arrayBuffer', method: 'POST' }, resolve);
        req.on('error', reject);
        // No Content-Length: node:http sends it chunked.
        for (let offset = 0; offset < payload.length; offset += 30_000) req.write(payload.subarray(offset, offset + 30_000));
        req.end();
      });
      assert.equal(response.headers['content-type'], 'application/json');
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const seen = JSON.parse(Buffer.concat(chunks).toString());
      assert.equal(response.statusCode, 200);
      assert.equal(seen.sha, sha256(payload));
      assert.equal(seen.length, payload.length);
    });

    test('a body reads as text (UTF-8) and as json', async () => {
      const text = 'héllo wörld ✓ 😀';
      const asText = await (await fetch(`${gateway.url}/read/text`, { method: 'POST', body: text })).json();
      assert.equal(asText.text, text);
      const value = { a: 1, nested: { list: [true, null, 'ü'] } };
      const asJson = await (await fetch(`${gateway.url}/read/json`, { method: 'PUT', body: JSON.stringify(value), headers: { 'content-type': 'application/json' } })).json();
      assert.deepEqual(asJson.json, value);
    });

    test('a multipart body reads as formData, files byte-exact', async () => {
      const file = randomBytes(70_000);
      const form = new FormData();
      form.append('title', 'a picture');
      form.append('title', 'second value');
      form.append('upload', new Blob([file], { type: 'image/png' }), 'pic.png');
      const response = await fetch(`${gateway.url}/read/formData`, { method: 'POST', body: form });
      assert.equal(response.status, 200);
      const { entries } = await response.json();
      assert.deepEqual(entries, [
        { name: 'title', value: 'a picture' },
        { name: 'title', value: 'second value' },
        { name: 'upload', file: 'pic.png', type: 'image/png', size: file.length, sha: sha256(file) },
      ]);
    });

    test('a urlencoded body reads as formData', async () => {
      const response = await fetch(`${gateway.url}/read/formData`, { method: 'PATCH', body: new URLSearchParams([['a', '1'], ['b', 'x y&z'], ['a', '2']]) });
      assert.equal(response.status, 200);
      assert.deepEqual((await response.json()).entries, [
        { name: 'a', value: '1' },
        { name: 'b', value: 'x y&z' },
        { name: 'a', value: '2' },
      ]);
    });

    test('a body read twice fails the second time with a TypeError', async () => {
      const response = await fetch(`${gateway.url}/read/twice`, { method: 'POST', body: 'only once' });
      assert.deepEqual(await response.json(), { first: 'only once', outcomes: ['TypeError', 'TypeError', 'TypeError'], bodyUsed: true });
    });

    test('looking at request.body does not use the body: text() still reads it', async () => {
      const response = await fetch(`${gateway.url}/read/touchThenRead`, { method: 'POST', body: 'still here' });
      assert.deepEqual(await response.json(), { touched: true, usedAfterTouch: false, text: 'still here', usedAfterRead: true });
    });

    test('request.clone() gives a second reader of the same body', async () => {
      const response = await fetch(`${gateway.url}/read/clone`, { method: 'POST', body: 'read by two' });
      assert.deepEqual(await response.json(), { fromCopy: 'read by two', fromOriginal: 'read by two', copyIsRequest: true });
    });

    test('after the body is read, request.body still answers and new Request(request) throws a TypeError', async () => {
      const response = await fetch(`${gateway.url}/read/afterRead`, { method: 'POST', body: 'x' });
      assert.deepEqual(await response.json(), { body: 'a stream', copy: 'TypeError', bodyUsed: true });
    });

    test('GET, HEAD and OPTIONS requests have no body, even when the client sends one', async () => {
      for (const method of ['GET', 'HEAD', 'OPTIONS']) {
        const socket = await StepSocket.connect(gateway.port);
        await socket.write(`${method} /nobody HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
        const { text } = await socket.untilClosed();
        const head = parseHead(text);
        assert.equal(head.status, 200, method);
        assert.equal(head.headers['x-method'], method);
        assert.equal(head.headers['x-body-null'], 'true', `${method}: request.body is null`);
        assert.equal(head.headers['x-text-length'], '0', `${method}: text() is empty`);
      }
    });

    test('request.signal aborts when the client disconnects, and the handler may go on', async () => {
      const tag = `early${Date.now()}`;
      const req = http.request({ host: '127.0.0.1', port: gateway.port, path: `/abort?tag=${tag}` });
      req.on('error', () => {});
      req.end();
      await waitForFile(path.join(dir, `started-${tag}`));
      req.destroy();
      const seen = JSON.parse(await waitForFile(path.join(dir, `aborted-${tag}.json`)));
      assert.deepEqual(seen, { aborted: true, name: 'AbortError' });
    });

    test('request.signal is already aborted when first touched after the client left', async () => {
      const tag = `late${Date.now()}`;
      const req = http.request({ host: '127.0.0.1', port: gateway.port, path: `/late-signal?tag=${tag}` });
      req.on('error', () => {});
      req.end();
      await waitForFile(path.join(dir, `started-${tag}`));
      req.destroy();
      // Give the server time to see the close before the handler looks.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await writeFile(path.join(dir, `gone-${tag}`), '');
      const seen = JSON.parse(await waitForFile(path.join(dir, `aborted-${tag}.json`)));
      assert.deepEqual(seen, { aborted: true, name: 'AbortError' });
    });

    test('request.signal does not abort for a request that completes normally', async () => {
      // A POST whose body the handler never reads still completes: the signal stays quiet.
      const response = await fetch(`${gateway.url}/copy`, { method: 'POST', body: 'x' });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).body, 'x');
    });

    test('new Request(request) copies url, method, headers and body', async () => {
      const response = await fetch(`${gateway.url}/copy?k=v`, { method: 'POST', body: 'copied body', headers: { 'x-custom': 'c' } });
      assert.equal(response.status, 200);
      const seen = await response.json();
      assert.equal(seen.isRequest, true);
      assert.match(seen.url, /^http:\/\/127\.0\.0\.1:\d+\/copy\?k=v$/);
      assert.equal(seen.method, 'POST');
      assert.equal(seen.custom, 'c');
      assert.equal(seen.body, 'copied body');
    });

    test('new Request(request) works for a chunked request with hop-by-hop headers, which request.headers still shows', async () => {
      const socket = await StepSocket.connect(gateway.port);
      await socket.write(
        'POST /copy HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, x-private\r\nX-Custom: c\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
      );
      const text = await socket.waitFor((received) => /\r\n\r\n[\s\S]*\}$/.test(received));
      socket.destroy();
      const head = parseHead(text);
      assert.equal(head.status, 200, head.rest);
      const body = head.headers['transfer-encoding'] === 'chunked' ? head.rest.split('\r\n')[1]! : head.rest;
      assert.deepEqual(JSON.parse(body), { isRequest: true, url: 'http://h.test/copy', method: 'POST', custom: 'c', body: 'hello world' });

      const described = await nodeRequest(gateway.port, { method: 'POST', path: '/describe', headers: { 'transfer-encoding': 'chunked', 'keep-alive': 'timeout=5' }, body: 'x' });
      const headers = new Map<string, string>(JSON.parse(described.body.toString()).headers);
      assert.equal(headers.get('transfer-encoding'), 'chunked');
      assert.equal(headers.get('keep-alive'), 'timeout=5');
    });

    test('fetch(request) proxies a GET to the Host it names, and the upstream response goes back as is', async () => {
      const upstreamHost = new URL(upstreamUrl).host;
      const response = await nodeRequest(gateway.port, { path: '/proxy/some/where?q=1', headers: { host: upstreamHost, 'x-custom': 'through' } });
      assert.equal(response.status, 201);
      assert.equal(response.statusText, 'Made Upstream');
      assert.deepEqual(response.headers['set-cookie'], ['up1=1', 'up2=2']);
      assert.equal(response.headers['x-upstream'], 'yes');
      assert.ok(response.headers['x-request-id']);
      const seen = JSON.parse(response.body.toString());
      assert.deepEqual(seen, { method: 'GET', url: '/proxy/some/where?q=1', host: upstreamHost, custom: 'through', length: 0, sha: sha256(new Uint8Array()) });
    });

    test('fetch(request) proxies a POST body byte-exact, Content-Length or chunked', async () => {
      const upstreamHost = new URL(upstreamUrl).host;
      const payload = randomBytes(300_000);
      const sized = await nodeRequest(gateway.port, { method: 'POST', path: '/proxy/upload', headers: { host: upstreamHost, 'content-length': payload.length }, body: payload });
      assert.equal(sized.status, 201, sized.body.toString());
      assert.equal(JSON.parse(sized.body.toString()).sha, sha256(payload));

      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/proxy/upload', headers: { host: upstreamHost } }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.write(payload.subarray(0, 100_000));
        setTimeout(() => req.end(payload.subarray(100_000)), 50);
      });
      assert.equal(chunked.status, 201, chunked.body);
      assert.equal(JSON.parse(chunked.body).sha, sha256(payload));
      assert.equal(JSON.parse(chunked.body).length, payload.length);
    });

    test('fetch(new Request(url, request)) proxies to another URL with the method, headers and body', async () => {
      const payload = randomBytes(50_000);
      const response = await fetch(`${gateway.url}/proxy-to/x/y?z=1`, { method: 'POST', body: payload, headers: { 'x-upstream': upstreamUrl, 'x-custom': 'via init' } });
      const text = await response.text();
      assert.equal(response.status, 201, text);
      const seen = JSON.parse(text);
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/proxy-to/x/y?z=1');
      assert.equal(seen.custom, 'via init');
      assert.equal(seen.sha, sha256(payload));
      assert.equal(seen.host, new URL(upstreamUrl).host, "Host names the target, not the gateway");
    });
  });

  describe('the Response written back', () => {
    test('status, statusText and every header, repeated ones included', async () => {
      const response = await nodeRequest(gateway.port, { path: '/status' });
      assert.equal(response.status, 418);
      assert.equal(response.statusText, "I'm a teapot");
      assert.equal(response.headers['x-one'], '1');
      assert.equal(response.headers['x-two'], 'two');
      assert.equal(response.headers['x-multi'], 'a, b');
      assert.equal(response.headers['content-type'], 'text/plain;charset=UTF-8');
      assert.equal(response.body.toString(), 'short and stout');
    });

    for (const how of ['headers', 'array', 'appended']) {
      test(`several Set-Cookie headers each arrive on their own line (built from ${how})`, async () => {
        const response = await nodeRequest(gateway.port, { path: `/cookies/${how}` });
        assert.equal(response.status, 200);
        const names = response.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
        assert.equal(names.filter((name) => name === 'set-cookie').length, 3);
        assert.deepEqual(response.headers['set-cookie']!.map((cookie) => cookie.split(';')[0]), ['a=1', 'b=2', 'c=3, with a comma']);
        const viaFetch = await fetch(`${gateway.url}/cookies/${how}`);
        assert.equal(viaFetch.headers.getSetCookie().length, 3);
      });
    }

    test('a ReadableStream body is streamed: the first chunk arrives before the stream ends', async () => {
      const key = `k${Date.now()}`;
      const response = await fetch(`${gateway.url}/stream?key=${key}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-streamed'), 'yes');
      assert.equal(response.headers.get('content-length'), null);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      // The stream is blocked until released: this read only completes if the
      // first chunk was sent on its own.
      const first = await reader.read();
      assert.equal(first.done, false);
      assert.equal(decoder.decode(first.value), 'first chunk;');
      const released = await fetch(`${gateway.url}/release?key=${key}`);
      assert.equal(released.status, 200, 'the stream was still waiting for its release');
      let rest = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
      }
      assert.equal(rest, 'second chunk;last chunk');
    });

    test('a stream that errors midway breaks the connection instead of ending cleanly', async () => {
      const response = await fetch(`${gateway.url}/broken-stream`);
      assert.equal(response.status, 200);
      await assert.rejects(response.text());
      const socket = await StepSocket.connect(gateway.port);
      await socket.write('GET /broken-stream HTTP/1.1\r\nHost: x\r\n\r\n');
      const { text } = await socket.untilClosed();
      assert.match(text, /a good start;/);
      assert.ok(!text.endsWith('0\r\n\r\n'), 'the chunked body was not terminated');
      const line = await gateway.waitForLog((l) => l.level === 50 && /not delivered/.test(l.msg) && /the source failed/.test(JSON.stringify(l.err)));
      assert.equal(line.handler, 'bridge:brokenStream');
    });

    test('Response.json sends JSON with its status and headers', async () => {
      const response = await fetch(`${gateway.url}/json`);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.equal(response.headers.get('x-json'), 'yes');
      assert.deepEqual(await response.json(), { hello: 'world', n: [1, 2] });
    });

    for (const size of [10, 65_536, 500_000]) {
      test(`a Blob body of ${size} bytes arrives byte-exact with its type and length`, async () => {
        const response = await fetch(`${gateway.url}/blob?size=${size}`);
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'application/x-pattern');
        assert.equal(response.headers.get('content-length'), String(size));
        assert.equal(sha256(await response.arrayBuffer()), sha256(pattern(size)));
      });
    }

    test('a Uint8Array body arrives byte-exact', async () => {
      const response = await fetch(`${gateway.url}/bytes?size=123457`);
      assert.equal(response.headers.get('content-length'), '123457');
      assert.equal(sha256(await response.arrayBuffer()), sha256(pattern(123_457)));
    });

    test('a null body is an empty response with Content-Length 0', async () => {
      for (const [kind, status] of [['null', 200], ['null201', 201]] as const) {
        const response = await nodeRequest(gateway.port, { path: `/empty/${kind}` });
        assert.equal(response.status, status);
        assert.equal(response.headers['content-length'], '0');
        assert.equal(response.body.length, 0);
      }
    });

    for (const [kind, header, value] of [['204', 'x-empty', 'yes'], ['304', 'etag', '"v1"']] as const) {
      test(`a ${kind} response has its headers and no body on the wire`, async () => {
        const socket = await StepSocket.connect(gateway.port);
        await socket.write(`GET /empty/${kind} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        const { text } = await socket.untilClosed();
        const head = parseHead(text);
        assert.equal(head.status, Number(kind));
        assert.equal(head.headers[header], value);
        assert.equal(head.headers['transfer-encoding'], undefined);
        assert.equal(head.rest, '', 'nothing after the head');
        assert.ok(head.headers['x-request-id']);
      });
    }

    test('a handler that throws gets 500 JSON with the request id, the message and a trace', async () => {
      const response = await fetch(`${gateway.url}/fail/throw`);
      assert.equal(response.status, 500);
      assert.match(response.headers.get('content-type')!, /^application\/json/);
      const id = response.headers.get('x-request-id')!;
      const body = await response.json();
      assert.deepEqual(Object.keys(body).sort(), ['code', 'trace']);
      assert.equal(body.code, `[Request ID: ${id}] Server Error: Uncaught Error: kaboom`);
      assert.match(body.trace, /^Uncaught Error: kaboom\n\s+at /);
      assert.match(body.trace, /bridge\.ts/, 'the trace points at the handler module');
      assert.doesNotMatch(body.trace, /run-http-action|node:internal/, "the gateway's own frames are left out");
    });

    test('a handler that throws synchronously gets the same 500 JSON', async () => {
      const response = await fetch(`${gateway.url}/fail/throwSync`);
      assert.equal(response.status, 500);
      const id = response.headers.get('x-request-id')!;
      assert.equal((await response.json()).code, `[Request ID: ${id}] Server Error: Uncaught TypeError: synchronous trouble`);
    });

    test('a ConvexError thrown with data gives its data beside the code', async () => {
      const response = await fetch(`${gateway.url}/fail/convex`);
      assert.equal(response.status, 500);
      const id = response.headers.get('x-request-id')!;
      const body = await response.json();
      assert.match(body.code, new RegExp(`^\\[Request ID: ${id}\\] Server Error: Uncaught ConvexError: `));
      assert.deepEqual(body.data, { reason: 'quota', left: 0 });
    });

    for (const [how, returned] of [['notResponse', 'an object {hello}'], ['undefined', 'undefined']]) {
      test(`a handler returning a non-Response (${how}) gets 500 "HTTP actions must return a Response", naming the handler`, async () => {
        const response = await fetch(`${gateway.url}/fail/${how}`);
        assert.equal(response.status, 500);
        const id = response.headers.get('x-request-id')!;
        const body = await response.json();
        assert.equal(body.code, `[Request ID: ${id}] Server Error: Uncaught Error: HTTP actions must return a Response: bridge:fail returned ${returned}`);
      });
    }

    test('a handler error is logged with the request id and the stack', async () => {
      const response = await fetch(`${gateway.url}/fail/throw`);
      const id = response.headers.get('x-request-id')!;
      const line = await gateway.waitForLog((l) => l.reqId === id && l.level === 50);
      assert.equal(line.handler, 'bridge:fail');
      assert.match(JSON.stringify(line.err), /kaboom/);
    });

    test('every response carries x-request-id, each one different', async () => {
      const ids = new Set<string>();
      for (const target of ['/json', '/status', '/fail/throw', '/nowhere', '/empty/204', '/stream-nowhere']) {
        const response = await fetch(gateway.url + target);
        await response.arrayBuffer();
        const id = response.headers.get('x-request-id');
        assert.match(id ?? '', /^[A-Za-z0-9._:-]{8,}$/, `${target} has an id`);
        ids.add(id!);
      }
      const put = await fetch(`${gateway.url}/json`, { method: 'PUT', body: 'x' });
      assert.equal(put.status, 405);
      ids.add(put.headers.get('x-request-id')!);
      assert.equal(ids.size, 7);
    });

    test("a client's well-formed X-Request-Id is kept, a malformed one replaced", async () => {
      const kept = await fetch(`${gateway.url}/json`, { headers: { 'x-request-id': 'trace-abc.123:xyz' } });
      assert.equal(kept.headers.get('x-request-id'), 'trace-abc.123:xyz');
      const failed = await fetch(`${gateway.url}/fail/throw`, { headers: { 'x-request-id': 'client-chosen-1' } });
      assert.equal(failed.headers.get('x-request-id'), 'client-chosen-1');
      assert.equal((await failed.json()).code, '[Request ID: client-chosen-1] Server Error: Uncaught Error: kaboom');
      for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
        const replaced = await fetch(`${gateway.url}/json`, { headers: { 'x-request-id': bad } });
        const id = replaced.headers.get('x-request-id');
        assert.ok(id && id !== bad, `${JSON.stringify(bad)} is replaced`);
      }
    });
  });
});

describe('the Fetch bridge in production mode', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir, { env: { NODE_ENV: 'production' } });
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('a handler that throws gets only the request id: no message, no trace', async () => {
    const response = await fetch(`${gateway.url}/fail/throw`);
    assert.equal(response.status, 500);
    const id = response.headers.get('x-request-id')!;
    assert.deepEqual(await response.json(), { code: `[Request ID: ${id}] Server Error` });
  });

  test('a ConvexError keeps its data, the message is still redacted', async () => {
    const response = await fetch(`${gateway.url}/fail/convex`);
    assert.equal(response.status, 500);
    const id = response.headers.get('x-request-id')!;
    assert.deepEqual(await response.json(), { code: `[Request ID: ${id}] Server Error`, data: { reason: 'quota', left: 0 } });
  });

  test('a non-Response return is redacted the same way', async () => {
    const response = await fetch(`${gateway.url}/fail/notResponse`);
    const id = response.headers.get('x-request-id')!;
    assert.deepEqual(await response.json(), { code: `[Request ID: ${id}] Server Error` });
  });

  test('the full error still reaches the log', async () => {
    const response = await fetch(`${gateway.url}/fail/throw`);
    const id = response.headers.get('x-request-id')!;
    const line = await gateway.waitForLog((l) => l.reqId === id && l.level === 50);
    assert.match(JSON.stringify(line.err), /kaboom/);
  });
});
