import net from 'node:net';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { parseHead, StepSocket } from '../helpers/socket.js';

// Request body limits (per route, the config's default, the built-in 20 MiB),
// response limits, and route timeouts, over a real socket. A body over its
// limit gets 413 {"code":"PayloadTooLarge"} without the gateway reading on;
// a response over its limit is never delivered as a complete success; a
// handler past its timeout gets 504 {"code":"Timeout"} and an aborted signal.

const functions = {
  'functions/lim.ts': `
import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { httpAction } from 'portico';

const sha = (bytes: ArrayBuffer) => createHash('sha256').update(new Uint8Array(bytes)).digest('hex');
const tagOf = (request: Request) => new URL(request.url).searchParams.get('tag') ?? 'untagged';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Records that it ran before it reads the body.
export const record = httpAction(async (_ctx, request) => {
  appendFileSync('ran.log', tagOf(request) + '\\n');
  const body = await request.arrayBuffer();
  return Response.json({ length: body.byteLength, sha: sha(body) });
});

// Reads the body through request.body, chunk by chunk.
export const streamRead = httpAction(async (_ctx, request) => {
  appendFileSync('ran.log', tagOf(request) + '\\n');
  const reader = request.body!.getReader();
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
  }
  return Response.json({ length });
});

// Catches the over-the-limit error and answers 200 anyway.
export const swallow = httpAction(async (_ctx, request) => {
  try {
    await request.text();
  } catch {
    return new Response('swallowed the error');
  }
  return new Response('read it all');
});

// Never reads the body.
export const ignore = httpAction(async () => new Response('did not read'));

export const respond = httpAction(async (ctx) => {
  const size = Number(ctx.params.size);
  switch (ctx.params.kind) {
    case 'string': return new Response('x'.repeat(size));
    case 'bytes': return new Response(new Uint8Array(size));
    case 'blob': return new Response(new Blob([new Uint8Array(size)]));
    case 'json': return Response.json({ filler: 'x'.repeat(size) });
    case 'stream': {
      // 512-byte chunks, a little apart, so the head is out long before the limit.
      let sent = 0;
      return new Response(new ReadableStream({
        async pull(controller) {
          if (sent >= size) return controller.close();
          await sleep(5);
          const n = Math.min(512, size - sent);
          sent += n;
          controller.enqueue(new Uint8Array(n).fill(97));
        },
      }));
    }
  }
  return new Response('unknown', { status: 400 });
});

// Waits on request.signal, records the abort, then answers far too late.
export const slow = httpAction(async (_ctx, request) => {
  const tag = tagOf(request);
  const signal = request.signal;
  signal.addEventListener('abort', () => writeFileSync('aborted-' + tag + '.json', JSON.stringify({ aborted: signal.aborted, name: (signal.reason as Error)?.name })));
  await sleep(3000);
  return new Response('too late');
});

// Never answers at all.
export const hang = httpAction(() => new Promise<Response>(() => {}));

// Starts a stream, then stalls past the timeout.
export const slowStream = httpAction(async () => {
  return new Response(new ReadableStream({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode('a beginning'));
    },
  }));
});
`,
};

const routes = `
  - { path: /small, method: POST, handler: "lim:record", bodyLimit: 1kb }
  - { path: /default, method: POST, handler: "lim:record" }
  - { path: /bigger, method: POST, handler: "lim:record", bodyLimit: 64kb }
  - { path: /stream-read, method: POST, handler: "lim:streamRead", bodyLimit: 1kb }
  - { path: /swallow, method: POST, handler: "lim:swallow", bodyLimit: 1kb }
  - { path: /ignore, method: POST, handler: "lim:ignore", bodyLimit: 1kb }
  - { path: /respond/:kind/:size, method: GET, handler: "lim:respond", responseLimit: 1kb }
  - { path: /slow, method: GET, handler: "lim:slow", timeout: 400ms }
  - { path: /slow-stream, method: GET, handler: "lim:slowStream", timeout: 400ms }
  - { path: /hang, method: GET, handler: "lim:hang", timeout: 400ms }
`;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Sends a request head (and optional start of a body) and reads the answer until the server closes. */
async function sendPartial(port: number, head: string, body: string | Buffer = ''): Promise<{ status: number; headers: Record<string, string>; json: any; raw: string }> {
  const socket = await StepSocket.connect(port);
  await socket.write(head);
  if (body.length > 0) await socket.write(body).catch(() => {});
  const raw = await socket.waitFor((text) => {
    const end = text.indexOf('\r\n\r\n');
    if (end === -1) return false;
    const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end));
    return length !== null && text.length - end - 4 >= Number(length[1]);
  });
  socket.destroy();
  const parsed = parseHead(raw);
  return { status: parsed.status, headers: parsed.headers, json: JSON.parse(parsed.rest), raw };
}

/** Writes a chunked body piece by piece; `end` sends the terminating chunk. */
function chunked(pieces: Buffer[], end: boolean): Buffer {
  const parts = pieces.flatMap((piece) => [Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  if (end) parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('body, response and time limits', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, 'limits: { body: 2kb }'), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const ran = async (tag: string) => {
    // Give a handler that should not run every chance to show that it did.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const file = path.join(dir, 'ran.log');
    return existsSync(file) && (await readFile(file, 'utf8')).split('\n').includes(tag);
  };

  describe('request bodies', () => {
    test('a declared Content-Length over the route limit gets 413 PayloadTooLarge, before the body is sent, and the handler does not run', async () => {
      const tag = `declared${Date.now()}`;
      const answer = await sendPartial(gateway.port, `POST /small?tag=${tag} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n`);
      assert.equal(answer.status, 413);
      assert.equal(answer.json.code, 'PayloadTooLarge');
      assert.match(answer.json.message, /1 KiB/);
      assert.match(answer.headers['content-type']!, /^application\/json/);
      assert.ok(answer.headers['x-request-id']);
      assert.equal(answer.headers.connection, 'close', 'the rest of the body is not read');
      assert.equal(await ran(tag), false, 'the handler ran');
    });

    test('a declared body over the limit gets 413 even while the client keeps sending it', async () => {
      const tag = `sending${Date.now()}`;
      const answer = await sendPartial(gateway.port, `POST /small?tag=${tag} HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n`, randomBytes(100_000));
      assert.equal(answer.status, 413);
      assert.equal(answer.json.code, 'PayloadTooLarge');
      assert.equal(await ran(tag), false);
    });

    test('a client that keeps sending a huge body still gets its 413, not a reset (lingering close)', async () => {
      // It writes 200 MB as fast as the socket takes it, whatever the gateway
      // says. The gateway answers at once, then reads and drops what keeps
      // coming; closing with those bytes unread would reset the connection and
      // the client would lose the answer (it did, 2 times in 5, before).
      const attempt = () =>
        new Promise<string>((resolve) => {
          const socket = net.connect({ port: gateway.port, host: '127.0.0.1' });
          let received = '';
          socket.setEncoding('latin1');
          socket.on('data', (data) => (received += data));
          socket.on('error', () => {});
          socket.on('close', () => resolve(received));
          socket.write('POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 200000000\r\n\r\n');
          const chunk = Buffer.alloc(256 * 1024);
          let sent = 0;
          const pump = (): void => {
            while (sent < 200_000_000 && !socket.destroyed) {
              sent += chunk.length;
              if (!socket.write(chunk)) {
                socket.once('drain', pump);
                return;
              }
            }
          };
          pump();
        });
      for (let i = 0; i < 5; i++) {
        const received = await attempt();
        assert.match(received, /^HTTP\/1\.1 413 /, `attempt ${i + 1} lost its answer`);
        assert.match(received, /"code":"PayloadTooLarge"/);
      }
    });

    test('a body exactly at the limit passes, one byte more is refused', async () => {
      const at = randomBytes(1024);
      const ok = await fetch(`${gateway.url}/small?tag=at`, { method: 'POST', body: at });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).sha, sha256(at));
      const over = await sendPartial(gateway.port, 'POST /small?tag=over HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n', randomBytes(1025));
      assert.equal(over.status, 413);
      assert.equal(over.json.code, 'PayloadTooLarge');
    });

    test("a route without bodyLimit gets the config's limits.body; a route's own limit overrides it both ways", async () => {
      const underDefault = await fetch(`${gateway.url}/default`, { method: 'POST', body: randomBytes(2000) });
      assert.equal(underDefault.status, 200);
      const overDefault = await sendPartial(gateway.port, 'POST /default HTTP/1.1\r\nHost: x\r\nContent-Length: 2049\r\n\r\n');
      assert.equal(overDefault.status, 413);
      assert.match(overDefault.json.message, /2 KiB/);
      const bigger = randomBytes(60_000);
      const allowed = await fetch(`${gateway.url}/bigger`, { method: 'POST', body: bigger });
      assert.equal(allowed.status, 200);
      assert.equal((await allowed.json()).sha, sha256(bigger));
      const smaller = await sendPartial(gateway.port, 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n');
      assert.equal(smaller.status, 413);
    });

    test('a chunked body that goes over the limit gets 413 without the gateway waiting for its end', async () => {
      const tag = `chunked${Date.now()}`;
      // 1200 bytes in two chunks and no terminating chunk: the answer can only
      // come from the gateway noticing the overflow.
      const answer = await sendPartial(gateway.port, `POST /small?tag=${tag} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, chunked([randomBytes(600), randomBytes(600)], false));
      assert.equal(answer.status, 413);
      assert.equal(answer.json.code, 'PayloadTooLarge');
      assert.equal(answer.headers.connection, 'close');
    });

    test('a chunked body over the limit gets 413 when the handler reads request.body as a stream', async () => {
      const answer = await sendPartial(gateway.port, 'POST /stream-read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', chunked([randomBytes(700), randomBytes(700)], false));
      assert.equal(answer.status, 413);
      assert.equal(answer.json.code, 'PayloadTooLarge');
    });

    test('a chunked body over the limit gets 413 even when the handler catches the error and answers 200', async () => {
      const answer = await sendPartial(gateway.port, 'POST /swallow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', chunked([randomBytes(2000)], true));
      assert.equal(answer.status, 413);
      assert.equal(answer.json.code, 'PayloadTooLarge');
    });

    test('a chunked body under the limit arrives whole', async () => {
      const pieces = [randomBytes(400), randomBytes(400), randomBytes(200)];
      const answer = await sendPartial(gateway.port, 'POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', chunked(pieces, true));
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { length: 1000, sha: sha256(Buffer.concat(pieces)) });
    });

    test('Expect: 100-continue over the limit gets 413 and never 100 Continue', async () => {
      const tag = `expect${Date.now()}`;
      const socket = await StepSocket.connect(gateway.port);
      await socket.write(`POST /small?tag=${tag} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n`);
      const text = await socket.waitFor((received) => /^HTTP\/1\.1 (?!100)\d{3}/m.test(received) && received.trimEnd().endsWith('}'));
      socket.destroy();
      assert.doesNotMatch(text, /100 Continue/);
      const head = parseHead(text);
      assert.equal(head.status, 413);
      assert.equal(JSON.parse(head.rest).code, 'PayloadTooLarge');
      assert.equal(await ran(tag), false);
    });

    test('Expect: 100-continue under the limit gets 100 Continue, then the answer', async () => {
      const socket = await StepSocket.connect(gateway.port);
      await socket.write('POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
      await socket.waitFor((received) => received.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
      const body = randomBytes(500);
      await socket.write(body);
      const { text } = await socket.untilClosed();
      const head = parseHead(text.slice('HTTP/1.1 100 Continue\r\n\r\n'.length));
      assert.equal(head.status, 200);
      assert.equal(JSON.parse(head.rest).sha, sha256(body));
    });

    test('the gateway keeps serving on a new connection after refusing bodies', async () => {
      const response = await fetch(`${gateway.url}/small`, { method: 'POST', body: 'fine' });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).length, 4);
    });
  });

  describe('response bodies', () => {
    for (const kind of ['string', 'bytes', 'blob', 'json']) {
      test(`a ${kind} response over the responseLimit gets 500 ResponseTooLarge instead`, async () => {
        const response = await fetch(`${gateway.url}/respond/${kind}/2000`);
        assert.equal(response.status, 500);
        const body = await response.json();
        assert.equal(body.code, 'ResponseTooLarge');
        assert.match(body.message, /1 KiB/);
        assert.ok(response.headers.get('x-request-id'));
      });
    }

    test('a response exactly at the responseLimit is delivered', async () => {
      const response = await fetch(`${gateway.url}/respond/bytes/1024`);
      assert.equal(response.status, 200);
      assert.equal((await response.arrayBuffer()).byteLength, 1024);
    });

    test('a streamed response that grows over the limit breaks the connection: the client sees an error, not a clean end', async () => {
      const response = await fetch(`${gateway.url}/respond/stream/3000`);
      // The head went out before the stream grew too large.
      assert.equal(response.status, 200);
      await assert.rejects(response.arrayBuffer(), (error: Error) => {
        assert.match(String((error as any).cause?.message ?? error.message), /terminated|closed|socket/i);
        return true;
      });

      // On the wire: the chunked body never gets its terminating chunk.
      const socket = await StepSocket.connect(gateway.port);
      await socket.write('GET /respond/stream/3000 HTTP/1.1\r\nHost: x\r\n\r\n');
      const { text } = await socket.untilClosed();
      const head = parseHead(text);
      assert.equal(head.headers['transfer-encoding'], 'chunked');
      assert.ok(!head.rest.endsWith('0\r\n\r\n'), 'the chunked body was not terminated');
      assert.ok(head.rest.length < 3000, 'no more than the limit was sent');
    });

    test('a streamed response under the limit is delivered whole', async () => {
      const response = await fetch(`${gateway.url}/respond/stream/1000`);
      assert.equal(response.status, 200);
      assert.equal((await response.text()), 'a'.repeat(1000));
    });

    test('a response over the limit is logged as not delivered', async () => {
      const response = await fetch(`${gateway.url}/respond/stream/3000`);
      const id = response.headers.get('x-request-id')!;
      await response.arrayBuffer().catch(() => {});
      const line = await gateway.waitForLog((l) => l.reqId === id && l.level === 50);
      assert.match(line.msg, /not delivered/);
    });
  });

  describe('timeouts', () => {
    test('a handler still running at the route timeout gets 504 Timeout, and its request.signal aborts', async () => {
      const tag = `t${Date.now()}`;
      const started = Date.now();
      const response = await fetch(`${gateway.url}/slow?tag=${tag}`);
      const elapsed = Date.now() - started;
      assert.equal(response.status, 504);
      const body = await response.json();
      assert.equal(body.code, 'Timeout');
      assert.ok(response.headers.get('x-request-id'));
      assert.ok(elapsed >= 350, `answered after ${elapsed} ms, before the 400 ms timeout`);
      assert.ok(elapsed < 2500, `answered after ${elapsed} ms, not at the timeout`);
      const file = path.join(dir, `aborted-${tag}.json`);
      for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { aborted: true, name: 'TimeoutError' });
      const line = await gateway.waitForLog((l) => l.msg === 'request' && l.reqId === response.headers.get('x-request-id'));
      assert.equal(line.status, 504);
    });

    test('a handler that never settles is answered 504 and logged at the timeout, not left in flight', async () => {
      const response = await fetch(`${gateway.url}/hang`);
      assert.equal(response.status, 504);
      assert.equal((await response.json()).code, 'Timeout');
      const id = response.headers.get('x-request-id');
      const line = await gateway.waitForLog((l) => l.msg === 'request' && l.reqId === id, 3000);
      assert.equal(line.status, 504);
      assert.ok((line.ms as number) < 2000, `logged after ${line.ms} ms`);
    });

    test("the handler's late answer is dropped and the gateway keeps serving", async () => {
      const response = await fetch(`${gateway.url}/slow?tag=late`);
      assert.equal(response.status, 504);
      await response.arrayBuffer();
      // The handler answers 3 s after it started.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const next = await fetch(`${gateway.url}/respond/string/10`);
      assert.equal(next.status, 200);
      assert.equal(await next.text(), 'x'.repeat(10));
      assert.equal(gateway.child.exitCode, null);
    });

    test('a response still streaming at the timeout has its connection broken', async () => {
      const response = await fetch(`${gateway.url}/slow-stream`);
      assert.equal(response.status, 200);
      const started = Date.now();
      await assert.rejects(response.text());
      assert.ok(Date.now() - started < 5000);
    });
  });
});

describe('the built-in 20 MiB body limit', () => {
  let dir: string;
  let gateway: RunningGateway;
  const LIMIT = 20 * 1024 * 1024;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml('  - { path: /upload, method: POST, handler: "lim:record" }'), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  /** Sends `body` in full through node:http; resolves with the answer (which may come before the body is all sent). */
  const upload = (body: Buffer, sized: boolean) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/upload', agent: false, headers: sized ? { 'content-length': body.length } : {} },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
          res.on('error', reject);
        },
      );
      // The gateway may stop reading mid-body once it has answered.
      req.on('error', () => {});
      if (sized) req.end(body);
      else {
        for (let offset = 0; offset < body.length; offset += 1 << 20) req.write(body.subarray(offset, offset + (1 << 20)));
        req.end();
      }
    });

  test('20 MiB + 1 byte with Content-Length gets 413', async () => {
    const answer = await upload(Buffer.alloc(LIMIT + 1, 1), true);
    assert.equal(answer.status, 413);
    assert.equal(answer.body.code, 'PayloadTooLarge');
    assert.match(answer.body.message, /20 MiB/);
  });

  test('20 MiB + 1 byte chunked gets 413', async () => {
    const answer = await upload(Buffer.alloc(LIMIT + 1, 2), false);
    assert.equal(answer.status, 413);
    assert.equal(answer.body.code, 'PayloadTooLarge');
  });

  test('exactly 20 MiB is accepted, byte-exact', async () => {
    const body = randomBytes(LIMIT);
    const answer = await upload(body, false);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { length: LIMIT, sha: sha256(body) });
  });
});
