import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'undici';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/http.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';

// WebSocket upgrades through proxy routes with `websocket: true`, to a real
// upstream process, with undici's WebSocket client on the other end.

function open(url: string): Promise<{ ws: WebSocket; messages: string[]; next(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: string[] = [];
    const waiters: ((text: string) => void)[] = [];
    ws.addEventListener('message', (event) => {
      const waiter = waiters.shift();
      if (waiter) waiter(String(event.data));
      else messages.push(String(event.data));
    });
    ws.addEventListener('error', () => reject(new Error('the WebSocket failed to open')));
    ws.addEventListener('open', () =>
      resolve({ ws, messages, next: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : new Promise((r) => waiters.push(r))) }),
    );
  });
}

describe('proxy WebSockets', () => {
  let upstream: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream('ws');
    dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /live/
    method: GET
    proxy: { upstream: ${upstream.url}, stripPrefix: true, websocket: true }
  - pathPrefix: /plain/
    method: GET
    proxy: { upstream: ${upstream.url}, stripPrefix: true }
  - path: /down
    method: GET
    proxy: { upstream: "http://127.0.0.1:1", websocket: true }`),
    });
    gateway = await startGateway(dir);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
    if (dir) await removeProject(dir);
  });

  it('passes a WebSocket through both ways, with the rewritten path and the forwarding headers', async () => {
    const { ws, next } = await open(`${gateway.url.replace('http', 'ws')}/live/chat?room=1`);
    const hello = JSON.parse(await next());
    assert.equal(hello.name, 'ws');
    assert.equal(hello.url, '/chat?room=1');
    assert.equal(hello.forwardedFor, '127.0.0.1');
    assert.ok(hello.id);
    ws.send('one');
    assert.equal(await next(), 'ws: one');
    ws.send('two');
    assert.equal(await next(), 'ws: two');
    ws.close();
    const line = await gateway.waitForLog((l) => l.route === '/live/*' && l.status === 101);
    assert.equal(line.reqId, hello.id);
  });

  it('serves an upgrade request on a route without websocket as a plain request', async () => {
    const res = await rawRequest(gateway.port, `GET /plain/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    assert.equal(res.status, 200, res.raw);
    assert.match(res.body, /"url":"\/echo"/, res.raw);
    assert.equal(res.headers.connection, 'close');
  });

  it('answers 502 BadGateway with the request id when the upstream cannot be reached', async () => {
    const res = await rawRequest(gateway.port, `GET /down HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).code, 'BadGateway');
    assert.ok(res.headers['x-request-id']);
  });
});
