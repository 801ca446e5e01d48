import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// Slowloris and friends: clients that send headers or a body one byte at a
// time, or open sockets and send nothing. Each is cut off at
// server.headersTimeout / server.requestTimeout, one address holds at most
// server.maxConnectionsPerClient sockets, the server at most
// server.maxConnections, and everyone else is served meanwhile. The slow
// clients connect from 127.0.0.2 (still loopback on Linux), the good ones
// from 127.0.0.1, so the per-address limit can tell them apart.

const SLOW = '127.0.0.2';
const files = {
  'functions/app.ts': `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
export const echo = httpAction(async (ctx, request) => new Response(await request.text()));
`,
};
const routes = `
  - { path: /hello, method: GET, handler: "app:hello" }
  - { path: /echo, method: POST, handler: "app:echo" }
`;

interface Client {
  socket: net.Socket;
  received(): string;
  closed: Promise<number>;
}

/** A socket from `localAddress`; `closed` resolves with the ms it stayed open. */
function connect(port: number, localAddress = SLOW): Promise<Client> {
  return new Promise((resolve, reject) => {
    const opened = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` until the socket closes (or `text` runs out). */
async function trickle(client: Client, text: string, everyMs: number): Promise<void> {
  for (const char of text) {
    if (client.socket.destroyed || client.socket.writableEnded) return;
    client.socket.write(char);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms))]);

async function helloFromGoodClient(url: string): Promise<void> {
  const response = await fetch(`${url}/hello`, { signal: AbortSignal.timeout(2_000) });
  assert.equal(await response.text(), 'hello');
}

describe('slow clients', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    const server = 'server: { headersTimeout: 1s, requestTimeout: 2s, maxConnectionsPerClient: 4 }';
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, server), ...files });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('headers sent one byte at a time: 408 RequestTimeout at headersTimeout, and the connection closes', async () => {
    const client = await connect(gateway.port);
    void trickle(client, `GET /hello HTTP/1.1\r\nHost: localhost\r\n${'X-Slow: 1\r\n'.repeat(100)}\r\n`, 100);
    // Meanwhile the server answers others.
    await helloFromGoodClient(gateway.url);
    const openMs = await within(client.closed, 4_000, 'a slow-headers client');
    assert.ok(openMs >= 900, `closed after ${openMs} ms, before headersTimeout`);
    assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(client.received(), /"code":"RequestTimeout"/);
  });

  test('a body sent one byte at a time: cut off at requestTimeout', async () => {
    const client = await connect(gateway.port);
    client.socket.write('POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n');
    void trickle(client, 'x'.repeat(1000), 100);
    await helloFromGoodClient(gateway.url);
    const openMs = await within(client.closed, 5_000, 'a slow-body client');
    assert.ok(openMs >= 1_900, `closed after ${openMs} ms, before requestTimeout`);
    // Never a handler's answer built from part of a body: Node refuses the request with 408.
    assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(client.received(), /"code":"RequestTimeout"/);
  });

  test('a socket that sends nothing is closed at headersTimeout', async () => {
    const client = await connect(gateway.port);
    const openMs = await within(client.closed, 4_000, 'a silent client');
    assert.ok(openMs >= 900, `closed after ${openMs} ms`);
  });

  test('one address holds at most maxConnectionsPerClient sockets; other clients are still served', async () => {
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(gateway.port)));
    // The server closes what is over the limit as it arrives.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const open = clients.filter((client) => !client.socket.destroyed);
    assert.equal(open.length, 4, `${open.length} of 10 sockets from one address stayed open`);
    await helloFromGoodClient(gateway.url);
    for (const client of clients) client.socket.destroy();
    await Promise.all(clients.map((client) => client.closed));
    // Once the server has seen its sockets close, the address gets its share back.
    let answer = '';
    for (const started = Date.now(); !answer.startsWith('HTTP/1.1 200 ') && Date.now() - started < 3_000; ) {
      const again = await connect(gateway.port);
      again.socket.write('GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      await within(again.closed, 3_000, 'a returning client');
      answer = again.received();
    }
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });
});

describe('the connection limit of the server', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, 'server: { maxConnections: 3, headersTimeout: 2s }'), ...files });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('past maxConnections a new connection is closed on arrival, and served again once the others go', async () => {
    const holders = await Promise.all(['127.0.0.3', '127.0.0.4', '127.0.0.5'].map((address) => connect(gateway.port, address)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const extra = await connect(gateway.port, '127.0.0.6');
    const openMs = await within(extra.closed, 2_000, 'a connection over maxConnections');
    assert.ok(openMs < 1_000);
    assert.equal(extra.received(), '');
    for (const holder of holders) holder.socket.destroy();
    await Promise.all(holders.map((holder) => holder.closed));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await helloFromGoodClient(gateway.url);
  });
});
