import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { fdsSettle, getAndClose, rssMb } from './process-watch.js';
import { rawRequest, type RawRequest } from './raw-requests.js';
import { fuzz, SEED } from './settings.js';

// Malformed HTTP/1.1 on a raw socket against the real binary. Every request
// gets a 2xx (it happened to be valid), a 4xx, a 501 for a method nobody
// knows, or a closed connection; never another 5xx, never a hang. Meanwhile
// the gateway keeps serving, logs no internal error, and once the fuzz is
// over its open descriptors return to the warm baseline and its memory stays
// within a bound.

export const FUZZ_FUNCTIONS = {
  'functions/f.ts': `
import { httpAction, query, mutation, v } from 'portico';

// Reads whatever body came and says what it saw; never throws on its own.
export const echo = httpAction(async (_ctx, request) => {
  const body = request.body ? await request.arrayBuffer() : null;
  return Response.json({ method: request.method, length: body?.byteLength ?? null });
});

export const kAny = query({ args: { x: v.any() }, handler: async (_ctx, { x }) => x });
export const store = mutation({ args: { x: v.any() }, handler: async (ctx, { x }) => ctx.db.insert('things', { x }) });
`,
};

const ROUTES = `
  - { path: /echo, method: [GET, POST, PUT, PATCH, DELETE], handler: "f:echo" }
  - { path: /users/:id, method: GET, handler: "f:echo" }
`;

/** 5xx other than 501 (a method nobody knows) is a fault: the client's input may only cost the client. */
const FAULT = /^HTTP\/1\.[01] 5(?!01)\d\d /m;
/** Far above a loopback answer; a gateway that waits for bytes that will never come blows past it. */
const HANG_MS = 5000;

interface Seen {
  text: string;
  /** The server closed the connection (or reset it). */
  closed: boolean;
  /** Neither an answer nor a close within HANG_MS. */
  hung: boolean;
}

/** Does `text` hold one complete response (after any 1xx interim ones)? */
function complete(text: string, head: boolean): boolean {
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) return false;
    const headText = rest.slice(0, end);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1]);
    if (status >= 100 && status < 200) {
      rest = rest.slice(end + 4);
      continue;
    }
    const body = rest.slice(end + 4);
    if (head || status === 204 || status === 304) return true;
    const length = /\r\ncontent-length: *(\d+)/i.exec(headText);
    if (length) return Buffer.byteLength(body, 'latin1') >= Number(length[1]);
    if (/\r\ntransfer-encoding: *chunked/i.test(headText)) return body.endsWith('0\r\n\r\n');
    return false;
  }
}

async function send(port: number, request: RawRequest): Promise<Seen> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let text = '';
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const closing = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  for (const chunk of request.chunks) {
    if (socket.destroyed) break;
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (request.then === 'destroy') {
    socket.destroy();
    return { text, closed: true, hung: false };
  }
  if (request.then === 'end' && !socket.destroyed) socket.end();
  const isHead = request.label.startsWith('HEAD ');
  const deadline = Date.now() + HANG_MS;
  while (!closed && Date.now() < deadline && !(request.then === 'wait' && complete(text, isHead))) {
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 10))]);
  }
  const hung = !closed && !(request.then === 'wait' && complete(text, isHead));
  socket.destroy();
  return { text, closed, hung };
}

describe('raw-socket requests, fuzzed', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(ROUTES), ...FUZZ_FUNCTIONS });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const stillServing = async (context: string) => {
    const answer = await getAndClose(gateway.port, '/echo');
    assert.equal(answer.status, 200, `the gateway stopped serving after: ${context}`);
    assert.equal(gateway.child.exitCode, null, 'the gateway process is alive');
  };

  test(`every malformed request gets a 2xx, 4xx, 501 or a close; the gateway keeps serving and gives back what it held (seed ${SEED})`, async () => {
    const pid = gateway.child.pid!;
    // Warm up every path the fuzz takes (the database, the function API, the
    // request log), so that what it opens once is in the baseline.
    for (let i = 0; i < 50; i++) {
      await getAndClose(gateway.port, '/echo');
      await getAndClose(gateway.port, '/api/query', { 'Content-Type': 'application/json' }, '{"path":"f:kAny","args":{"x":1}}');
    }
    await getAndClose(gateway.port, '/api/mutation', { 'Content-Type': 'application/json' }, '{"path":"f:store","args":{"x":1}}');
    const fdBaseline = await fdsSettle(gateway.child.pid!, Infinity);
    const rssBaseline = rssMb(pid);
    const logsBefore = gateway.logs().length;

    await fuzz(
      fc.asyncProperty(rawRequest, async (request) => {
        const seen = await send(gateway.port, request);
        const context = `${request.label}\nsent: ${JSON.stringify(Buffer.concat(request.chunks).toString('latin1').slice(0, 600))}\nreceived: ${JSON.stringify(seen.text.slice(0, 600))}`;
        assert.ok(!seen.hung, `no answer and no close within ${HANG_MS} ms: ${context}`);
        assert.doesNotMatch(seen.text, FAULT, `a 5xx for the client's input: ${context}`);
        if (seen.text !== '') assert.match(seen.text, /^HTTP\/1\.[01] \d{3} /, `not an HTTP answer: ${context}`);
        await stillServing(context);
      }),
      250,
    );

    const faults = gateway.logs().slice(logsBefore).filter((line) => line.level >= 50);
    assert.deepEqual(faults.map((line) => line.msg), [], `internal errors logged: ${JSON.stringify(faults.slice(0, 3))}`);
    const fds = await fdsSettle(pid, fdBaseline);
    assert.ok(fds <= fdBaseline, `open descriptors: ${fds} after the fuzz, ${fdBaseline} before`);
    const rss = rssMb(pid);
    assert.ok(rss < rssBaseline + 64, `resident memory grew from ${rssBaseline.toFixed(1)} MB to ${rss.toFixed(1)} MB`);
  });

  // Regression: a client that hung up halfway through its body made the
  // handler's read fail, and the gateway logged that as an internal error
  // with a stack: any client could fill the error log at will.
  test('a client that hangs up mid-body is logged at info, not as a handler fault', async () => {
    const logsBefore = gateway.logs().length;
    const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /echo HTTP/1.1\r\nHost: h.test\r\nContent-Length: 100\r\n\r\nonly ten b');
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    const line = await gateway.waitForLog((l) => l.msg === 'handler failed after the client closed the connection');
    assert.equal(line.level, 30);
    await stillServing('a client hanging up mid-body');
    assert.deepEqual(gateway.logs().slice(logsBefore).filter((l) => l.level >= 50), []);
  });
});
