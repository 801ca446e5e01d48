import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { StepSocket } from '../helpers/socket.js';

// The server handles the requests one event-loop turn read together, after
// the reads (src/server/turn-batch.ts). Whatever arrives at once, on many
// connections or pipelined on one, each request gets its own answer, in
// order on its connection, and a slow handler holds up nobody else.

const functions = {
  'functions/turns.ts': `
import { httpAction } from 'portico';

/** Answers with what it was sent: the n query parameter, and the body. */
export const echo = httpAction(async (_ctx, request) => {
  const n = new URL(request.url).searchParams.get('n');
  const body = request.method === 'POST' ? await request.text() : null;
  return Response.json({ n, body });
});

/** Answers after the ms query parameter. */
export const slow = httpAction(async (_ctx, request) => {
  const ms = Number(new URL(request.url).searchParams.get('ms'));
  await new Promise((resolve) => setTimeout(resolve, ms));
  return new Response('slow');
});
`,
};

const routes = `
  - { path: /echo, method: [GET, POST], handler: "turns:echo" }
  - { path: /slow, method: GET, handler: "turns:slow" }
`;

describe('many requests at once', () => {
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir);
  });

  after(async () => {
    await gateway?.stop();
    if (dir) await removeProject(dir);
  });

  test('300 concurrent requests on 300 connections each get their own answer', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 300 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          new Promise<{ status: number; body: string }>((resolve, reject) => {
            const post = i % 3 === 0;
            const request = http.request(`${gateway.url}/echo?n=${i}`, { method: post ? 'POST' : 'GET', agent }, (response) => {
              let body = '';
              response.setEncoding('utf8').on('data', (chunk) => (body += chunk));
              response.on('end', () => resolve({ status: response.statusCode!, body }));
            });
            request.on('error', reject);
            request.end(post ? `body ${i}` : undefined);
          }),
        ),
      );
      answers.forEach((answer, i) => {
        assert.equal(answer.status, 200);
        assert.deepEqual(JSON.parse(answer.body), { n: String(i), body: i % 3 === 0 ? `body ${i}` : null });
      });
    } finally {
      agent.destroy();
    }
  });

  test('pipelined requests on one connection are answered in the order sent', async () => {
    const socket = await StepSocket.connect(gateway.port);
    try {
      await socket.write(
        'GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n' +
          'POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
          // A slow one in the middle: the answer after it still waits its turn.
          'GET /slow?ms=150 HTTP/1.1\r\nHost: x\r\n\r\n' +
          'GET /echo?n=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      await socket.closed;
      const text = socket.text();
      const statuses = text.match(/HTTP\/1\.1 \d{3}/g);
      assert.deepEqual(statuses, ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
      const order = ['{"n":"1","body":null}', '{"n":"2","body":"hello"}', 'slow', '{"n":"4","body":null}'].map((part) => text.indexOf(part));
      assert.ok(order.every((at) => at !== -1), text);
      assert.deepEqual([...order].sort((a, b) => a - b), order, text);
    } finally {
      socket.socket.destroy();
    }
  });

  test('a slow handler does not hold up requests on other connections', async () => {
    const slow = fetch(`${gateway.url}/slow?ms=1500`).then(() => Date.now());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const fast = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${gateway.url}/echo?n=${i}`).then(async (r) => ({ at: Date.now(), n: (await r.json()).n }))));
    const slowAt = await slow;
    for (const { at, n } of fast) assert.ok(at < slowAt, `request ${n} waited for the slow one`);
    assert.deepEqual(fast.map((r) => r.n), Array.from({ length: 20 }, (_, i) => String(i)));
  });
});
