import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { textRequest as request } from '../helpers/http.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';

// A client that leaves before its proxied request reaches the upstream (here
// while the route's middleware is still running, so its connection's
// 'close' has come and gone) must not leave the request hanging: it is
// logged as 499, holds no upstream connection, and does not keep a stop
// waiting. And a client that resets a connection it sent an Upgrade on
// (served as a plain request) must not take the process down.

const WAIT = `import type { Context, Next } from 'koa';
/** Holds the request for the ms query parameter (default 300), then goes on. */
export const wait = async (ctx: Context, next: Next) => {
  await new Promise((resolve) => setTimeout(resolve, Number(ctx.query.ms ?? 300)));
  await next();
};
`;

describe('a client that leaves early', () => {
  let upstream: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream('u');
    dir = await makeProject({
      'functions/h.ts': `import { httpAction } from 'portico';\nexport const slow = httpAction(async () => { await new Promise((r) => setTimeout(r, 300)); return new Response('late'); });\n`,
      'middleware/wait.ts': WAIT,
      'routes.yaml': routesYaml(
        `  - pathPrefix: /held/
    method: GET
    proxy: { upstream: ${upstream.url}, stripPrefix: true }
    middleware: [./middleware/wait.ts:wait]
  - { path: /slow, method: GET, handler: h:slow }`,
      ),
    });
    gateway = await startGateway(dir);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
    if (dir) await removeProject(dir);
  });

  test('gone before the upstream answered: logged 499, nothing held, and the route keeps working', async () => {
    for (const path of ['/held/echo?n=1', '/held/bytes/300000?n=2']) {
      const socket = net.connect(gateway.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      const line = await gateway.waitForLog((entry) => entry.msg === 'request' && entry.path === path.split('?')[0], 5_000);
      assert.equal(line.status, 499, JSON.stringify(line));
    }
    // The pool still has its connections: a request through the same route is answered.
    const answer = await request(`${gateway.url}/held/echo?ms=0`);
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.text).name, 'u');
  });

  test('an Upgrade request served as a plain one, on a connection the client resets, leaves the process running', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = net.connect(gateway.port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write('GET /slow HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 50));
      // An RST, not a FIN: the answer written 250 ms later meets a reset socket.
      socket.resetAndDestroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(gateway.child.exitCode, null, `the gateway exited:\n${gateway.stderr()}`);
    assert.equal((await request(`${gateway.url}/slow`)).text, 'late');
  });
});
