import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { issue, makeCa, type TestCa } from './certs.js';
import { connectH2, h2Request } from './h2-client.js';

// https and HTTP/2 on one port, checked with curl (--http1.1 and --http2)
// and Node's http2 client against a certificate authority of the test's own:
// the HTTP/1.1 behaviours (routing, HEAD, CORS, 413, streaming, 504,
// Set-Cookie, client aborts) hold over HTTP/2, and no connection-specific
// header reaches an HTTP/2 client even when a handler sets one.

const run = promisify(execFile);

const FUNCTIONS = {
  'functions/web.ts': `
import { httpAction } from 'portico';

export const hello = httpAction(async (_ctx, request) =>
  new Response('hello ' + request.url, { headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', upgrade: 'h2c', 'x-kept': 'yes' } }));

export const echo = httpAction(async (_ctx, request) => new Response(String((await request.arrayBuffer()).byteLength)));

export const upload = httpAction(async (_ctx, request) => new Response(String((await request.arrayBuffer()).byteLength)));

export const stream = httpAction(async () => {
  let step = 0;
  return new Response(new ReadableStream({
    async pull(controller) {
      step += 1;
      if (step === 1) controller.enqueue(new TextEncoder().encode('first;'));
      else if (step === 2) { await new Promise((r) => setTimeout(r, 600)); controller.enqueue(new TextEncoder().encode('second')); }
      else controller.close();
    },
  }), { headers: { 'content-type': 'text/plain' } });
});

export const slow = httpAction(async () => { await new Promise((r) => setTimeout(r, 3000)); return new Response('late'); });

export const cookies = httpAction(async () => {
  const headers = new Headers();
  headers.append('set-cookie', 'a=1; Path=/; HttpOnly');
  headers.append('set-cookie', 'b=2; Path=/; Secure');
  return new Response('two cookies', { headers });
});

export const wait = httpAction(async (_ctx, request) => {
  await new Promise((resolve) => request.signal.addEventListener('abort', resolve));
  console.log('client gone from ' + new URL(request.url).pathname);
  return new Response('never read');
});

export const uploadUrl = httpAction(async (ctx) => new Response(await ctx.storage.generateUploadUrl()));
`,
};

const ROUTES = `
  - path: /hello
    method: GET
    handler: web:hello
  - path: /echo
    method: [POST, PUT]
    handler: web:echo
  - path: /upload
    method: POST
    handler: web:upload
    bodyLimit: 1kb
  - path: /stream
    method: GET
    handler: web:stream
  - path: /slow
    method: GET
    handler: web:slow
    timeout: 300ms
  - path: /cookies
    method: GET
    handler: web:cookies
  - path: /wait
    method: GET
    handler: web:wait
  - path: /upload-url
    method: GET
    handler: web:uploadUrl
`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('TLS and HTTP/2', () => {
  let dir: string;
  let ca: TestCa;
  let gateway: RunningGateway;
  let base: string;
  let redirectPort: number;
  let session: http2.ClientHttp2Session;

  before(async () => {
    dir = await makeProject(FUNCTIONS);
    ca = makeCa(path.join(dir, 'ca'));
    issue(ca, path.join(dir, 'tls'), 'server');
    redirectPort = await freePort();
    const extra = `server:\n  tls: { cert: ./tls/server.crt, key: ./tls/server.key, redirectPort: ${redirectPort} }\ncors:\n  origins: [https://app.example]\n  exposeHeaders: [X-Kept]\n`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(ROUTES, extra));
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
    base = `https://localhost:${gateway.port}`;
    session = await connectH2(base, ca.pem);
  });

  after(async () => {
    session?.close();
    await gateway?.stop();
    if (dir) await removeProject(dir);
  });

  test('the gateway says it listens on https', () => {
    assert.match(gateway.url, /^https:\/\//);
  });

  test('curl --http1.1 and --http2 both get the route on the one port, with an https request.url', async () => {
    for (const [flag, version] of [['--http1.1', '1.1'], ['--http2', '2']] as const) {
      const { stdout } = await run('curl', ['-sS', '--cacert', ca.cert, flag, '-w', '\n%{http_version} %{http_code}', `${base}/hello?x=1`]);
      const [body, status] = stdout.split('\n');
      assert.equal(status, `${version} 200`, flag);
      assert.equal(body, `hello ${base}/hello?x=1`, flag);
    }
  });

  test('no connection-specific header is sent on HTTP/2, even when the handler sets them', async () => {
    const { stdout } = await run('curl', ['-sS', '--cacert', ca.cert, '--http2', '-D', '-', '-o', '/dev/null', `${base}/hello`]);
    assert.match(stdout, /^HTTP\/2 200/);
    assert.match(stdout, /^x-kept: yes/m);
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding']) assert.doesNotMatch(stdout, new RegExp(`^${name}:`, 'im'), name);
    // Node's client refuses such headers outright; the answer parses.
    const answer = await h2Request(session, { ':path': '/hello' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.connection, undefined);
    assert.equal(answer.headers['keep-alive'], undefined);
  });

  test('curl over TLS, both protocols: 413 for a body over the limit, 504 past the timeout, both Set-Cookie fields', async () => {
    const big = path.join(dir, 'big.bin');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(big, Buffer.alloc(2 * 1024 * 1024, 1));
    for (const flag of ['--http1.1', '--http2']) {
      const tooLarge = await run('curl', ['-sS', '--cacert', ca.cert, flag, '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/octet-stream', '--data-binary', `@${big}`, `${base}/upload`]);
      assert.equal(tooLarge.stdout, '413', flag);
      const late = await run('curl', ['-sS', '--cacert', ca.cert, flag, '-o', '/dev/null', '-w', '%{http_code}', `${base}/slow`]);
      assert.equal(late.stdout, '504', flag);
      const cookies = await run('curl', ['-sS', '--cacert', ca.cert, flag, '-D', '-', '-o', '/dev/null', `${base}/cookies`]);
      assert.deepEqual(cookies.stdout.match(/^set-cookie: .*$/gim)?.map((line) => line.trim().replace(/^set-cookie: /i, '')), ['a=1; Path=/; HttpOnly', 'b=2; Path=/; Secure'], flag);
    }
  });

  test('curl --http2 HEAD: the GET headers, no body', async () => {
    const { stdout } = await run('curl', ['-sS', '--cacert', ca.cert, '--http2', '-I', `${base}/cookies`]);
    assert.match(stdout, /^HTTP\/2 200/);
    assert.match(stdout, /^content-length: 11/m);
    const answer = await h2Request(session, { ':path': '/cookies', ':method': 'HEAD' });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '');
    assert.equal(answer.headers['content-length'], '11');
  });

  test('HTTP/2 routing: 404 for an unknown path, 405 with Allow for a wrong method', async () => {
    const missing = await h2Request(session, { ':path': '/nowhere' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body, 'No matching routes found');
    const wrong = await h2Request(session, { ':path': '/hello', ':method': 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.match(String(wrong.headers.allow), /GET/);
    assert.ok(wrong.headers['x-request-id']);
  });

  test('HTTP/2 CORS: preflight and actual answers carry the policy', async () => {
    const preflight = await h2Request(session, { ':path': '/echo', ':method': 'OPTIONS', origin: 'https://app.example', 'access-control-request-method': 'PUT' });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    assert.match(String(preflight.headers['access-control-allow-methods']), /PUT/);
    const actual = await h2Request(session, { ':path': '/hello', origin: 'https://app.example' });
    assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal(actual.headers['access-control-expose-headers'], 'X-Kept');
    const refused = await h2Request(session, { ':path': '/echo', ':method': 'OPTIONS', origin: 'https://evil.example', 'access-control-request-method': 'PUT' });
    assert.equal(refused.status, 403);
  });

  test('HTTP/2 request bodies arrive byte-exact', async () => {
    const body = Buffer.alloc(300_000, 7);
    const answer = await h2Request(session, { ':path': '/echo', ':method': 'POST' }, body);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, '300000');
  });

  test('HTTP/2: a body over the limit gets 413 before the client could send it all, and the connection lives on', async () => {
    const stream = session.request({ ':path': '/upload', ':method': 'POST' });
    const chunk = Buffer.alloc(16_384, 1);
    let written = 0;
    let answered = false;
    const response = new Promise<{ status: number; body: string; writtenThen: number }>((resolve, reject) => {
      let status = 0;
      let body = '';
      let writtenThen = 0;
      stream.on('response', (h) => {
        status = Number(h[':status']);
        answered = true;
        writtenThen = written;
      });
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (body += d));
      stream.on('end', () => resolve({ status, body, writtenThen }));
      stream.on('error', reject);
    });
    // 10 MB offered, with backpressure: only what the server lets through is written.
    for (let i = 0; i < 640 && !answered && !stream.destroyed; i++) {
      const flushed = new Promise<void>((resolve) => stream.write(chunk, () => resolve()));
      await Promise.race([flushed, response.then(() => {}, () => {})]);
      written += chunk.length;
    }
    const answer = await response;
    assert.equal(answer.status, 413);
    assert.equal(JSON.parse(answer.body).code, 'PayloadTooLarge');
    assert.ok(answer.writtenThen < 512 * 1024, `the client got to write ${answer.writtenThen} bytes before the answer`);
    if (!stream.closed) await new Promise((resolve) => stream.once('close', resolve));
    assert.ok(stream.rstCode === undefined || stream.rstCode === http2.constants.NGHTTP2_NO_ERROR, `stream ended with ${stream.rstCode}`);
    // Only the stream ended: the same connection serves the next request.
    assert.equal((await h2Request(session, { ':path': '/hello' })).status, 200);
  });

  test('HTTP/2 streaming: the first chunk arrives before the stream ends', async () => {
    const started = Date.now();
    const stream = session.request({ ':path': '/stream' });
    const firstAt = await new Promise<number>((resolve) => stream.once('data', () => resolve(Date.now() - started)));
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (rest += d));
    await new Promise((resolve) => stream.on('end', resolve));
    const total = Date.now() - started;
    assert.ok(total >= 550, `the stream took ${total} ms`);
    assert.ok(firstAt < total - 300, `first chunk at ${firstAt} ms of ${total} ms`);
    assert.equal(rest, 'second');
  });

  test('HTTP/2: a handler past its timeout gets 504', async () => {
    const answer = await h2Request(session, { ':path': '/slow' });
    assert.equal(answer.status, 504);
    assert.equal(JSON.parse(answer.body).code, 'Timeout');
  });

  test('HTTP/2: several Set-Cookie fields stay separate', async () => {
    const answer = await h2Request(session, { ':path': '/cookies' });
    assert.deepEqual(answer.headers['set-cookie'], ['a=1; Path=/; HttpOnly', 'b=2; Path=/; Secure']);
  });

  test('HTTP/2: a client that cancels its stream aborts request.signal', async () => {
    const stream = session.request({ ':path': '/wait' });
    stream.on('error', () => {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await gateway.waitForLog((line) => JSON.stringify(line).includes('client gone from /wait'), 10_000);
  });

  test('storage URLs follow the https scheme', async () => {
    const answer = await h2Request(session, { ':path': '/upload-url' });
    assert.match(answer.body, new RegExp(`^https://127\\.0\\.0\\.1:${gateway.port}/api/storage/upload\\?token=`));
  });

  test('request logs cover HTTP/2 requests', async () => {
    await h2Request(session, { ':path': '/hello?logged=1' });
    await gateway.waitForLog((line) => line.msg === 'request' && line.path === '/hello' && line.status === 200);
  });

  test('TLS 1.2 and 1.3 are accepted, TLS 1.1 is refused', async () => {
    const handshake = (options: tls.ConnectionOptions) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: gateway.port, servername: 'localhost', ca: ca.pem, ...options }, () => {
          const version = socket.getProtocol() ?? '';
          socket.destroy();
          resolve(version);
        });
        socket.once('error', reject);
      });
    assert.equal(await handshake({ maxVersion: 'TLSv1.2' }), 'TLSv1.2');
    assert.equal(await handshake({ minVersion: 'TLSv1.3' }), 'TLSv1.3');
    await assert.rejects(handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }));
  });

  test('a certificate from another authority is refused by the client', async () => {
    const other = makeCa(path.join(dir, 'other-ca'), 'Another CA');
    await assert.rejects(
      new Promise((resolve, reject) => https.get(`${base}/hello`, { ca: other.pem }, resolve).on('error', reject)),
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  test('the plain-HTTP redirect listener answers 308 to the same path and query over https', async () => {
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://127.0.0.1:${redirectPort}/hello/there?x=1&y=%20`, resolve).on('error', reject));
    answer.resume();
    assert.equal(answer.statusCode, 308);
    assert.equal(answer.headers.location, `https://127.0.0.1:${gateway.port}/hello/there?x=1&y=%20`);
    const { stdout } = await run('curl', ['-sS', '-L', '--cacert', ca.cert, '-w', '\n%{http_code} %{num_redirects}', `http://localhost:${redirectPort}/hello?z=2`]);
    assert.equal(stdout, `hello https://localhost:${gateway.port}/hello?z=2\n200 1`);
  });
});
