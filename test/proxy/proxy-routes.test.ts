import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';
import { textRequest as request } from '../helpers/http.js';
import { StepSocket } from '../helpers/socket.js';

// Proxy routes in front of real upstream processes on loopback: where the
// request goes, what headers cross, which upstream answers, and what the
// client gets when upstreams fail.

const ORIGIN = 'https://app.example.com';

interface Echo {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  bytes: number;
}


describe('proxy routes', () => {
  let a: UpstreamProcess;
  let b: UpstreamProcess;
  let c: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    [a, b, c] = await Promise.all([startUpstream('a'), startUpstream('b'), startUpstream('c')]);
    dir = await makeProject({
      'functions/hello.ts': `import { httpAction } from 'portico';\nexport default httpAction(async () => new Response('hello'));\n`,
      'routes.yaml': routesYaml(
        `  - pathPrefix: /svc/
    method: [GET, POST, PUT, DELETE]
    proxy:
      upstream: ${a.url}
      stripPrefix: true
      headers: { add: { X-From: portico }, remove: [X-Internal] }
  - pathPrefix: /host/
    method: GET
    proxy: { upstream: ${a.url}, preserveHost: true, stripPrefix: true }
  - path: /users/:id/posts/:post
    method: GET
    proxy: { upstream: "${a.url}/base", rewrite: "/v2/users/{id}/p/{post}" }
  - pathPrefix: /files/
    method: GET
    proxy: { upstream: ${a.url}, rewrite: "/storage/{*}" }
  - pathPrefix: /rr/
    method: [GET, POST]
    proxy: { upstream: [${a.url}, ${b.url}], stripPrefix: true, retries: 1 }
  - pathPrefix: /cors/
    method: GET
    cors: { origins: ["${ORIGIN}"], exposeHeaders: [X-Upstream] }
    proxy: { upstream: ${a.url}, stripPrefix: true }
  - pathPrefix: /slow/
    method: GET
    cors: { origins: ["${ORIGIN}"] }
    proxy: { upstream: ${a.url}, timeout: 300ms }
  - pathPrefix: /small/
    method: POST
    bodyLimit: 1kb
    proxy: { upstream: ${a.url}, stripPrefix: true }
  - pathPrefix: /private/
    method: GET
    auth: required
    proxy: { upstream: ${a.url}, stripPrefix: true }
  - pathPrefix: /pair/
    method: [GET, POST]
    cors: { origins: ["${ORIGIN}"] }
    proxy: { upstream: [${c.url}, http://127.0.0.1:1], stripPrefix: true, cooldown: 30s }
  - path: /hello
    method: GET
    handler: hello`,
        `auth:\n  providers:\n    - { issuer: https://auth.example.com, jwks: ./jwks.json }\n`,
      ),
      'jwks.json': JSON.stringify({ keys: [] }),
    });
    gateway = await startGateway(dir, { env: { PORTICO_LOG_FORMAT: 'json' } });
  });

  after(async () => {
    await gateway?.stop();
    await Promise.all([a, b, c].map((u) => u?.stop()));
    if (dir) await removeProject(dir);
  });

  it('strips the prefix, keeps the query, adds and removes headers, and sends the gateway request id', async () => {
    const res = await request(`${gateway.url}/svc/echo/x?q=1&r=%20`, { headers: { 'x-internal': 'secret', 'x-from': 'client', 'x-kept': 'yes' } });
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.text) as Echo;
    assert.equal(echo.url, '/echo/x?q=1&r=%20');
    assert.equal(echo.headers['x-internal'], undefined);
    assert.equal(echo.headers['x-from'], 'portico');
    assert.equal(echo.headers['x-kept'], 'yes');
    assert.equal(echo.headers.host, `127.0.0.1:${a.port}`);
    assert.equal(echo.headers['x-request-id'], res.headers['x-request-id']);
    assert.equal(res.headers['x-upstream'], 'a');
  });

  it('sets X-Forwarded-For/-Proto/-Host and Forwarded, replacing what an untrusted client claims', async () => {
    const res = await request(`${gateway.url}/svc/echo`, { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example', forwarded: 'for=6.6.6.6' } });
    const echo = JSON.parse(res.text) as Echo;
    assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(echo.headers['x-forwarded-proto'], 'http');
    assert.equal(echo.headers['x-forwarded-host'], `127.0.0.1:${gateway.port}`);
    assert.equal(echo.headers.forwarded, `for=127.0.0.1;proto=http;host="127.0.0.1:${gateway.port}"`);
  });

  it('preserveHost sends the client Host upstream', async () => {
    const echo = JSON.parse((await request(`${gateway.url}/host/echo`, { headers: { host: 'api.example.com' } })).text) as Echo;
    assert.equal(echo.headers.host, 'api.example.com');
    assert.equal(echo.url, '/echo');
  });

  it('rewrites with the route parameters, under the upstream base path', async () => {
    const echo = JSON.parse((await request(`${gateway.url}/users/a%20b/posts/7?full=1`)).text) as Echo;
    assert.equal(echo.url, '/base/v2/users/a%20b/p/7?full=1');
    const rest = JSON.parse((await request(`${gateway.url}/files/deep/er.txt`)).text) as Echo;
    assert.equal(rest.url, '/storage/deep/er.txt');
  });

  it('drops hop-by-hop headers both ways (RFC 9110 7.6.1)', async () => {
    const agent = new http.Agent({ keepAlive: false });
    const res = await request(`${gateway.url}/svc/echo`, {
      agent,
      headers: { connection: 'close, x-secret', 'x-secret': '1', te: 'trailers', 'proxy-authorization': 'Basic eA==', 'keep-alive': 'timeout=1' },
    });
    const echo = JSON.parse(res.text) as Echo;
    for (const name of ['x-secret', 'te', 'proxy-authorization', 'keep-alive']) assert.equal(echo.headers[name], undefined, name);
    assert.notEqual(echo.headers.connection, 'close, x-secret');

    const hop = await request(`${gateway.url}/svc/hop`);
    assert.equal(hop.text, 'hop');
    assert.equal(hop.headers['x-hop'], undefined);
    assert.equal(hop.headers['proxy-authenticate'], undefined);
    assert.equal(hop.headers['x-kept'], 'yes');
    assert.notEqual(hop.headers['x-request-id'], 'upstream-id');
  });

  it('relays repeated fields, and trailer fields after a chunked body', async () => {
    const answer = await new Promise<http.IncomingMessage & { text: string }>((resolve, reject) => {
      http.get(`${gateway.url}/svc/trailers`, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(Object.assign(res, { text })));
      }).on('error', reject);
    });
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.text, 'part one, part two');
    assert.deepEqual(answer.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(answer.headers.trailer, 'x-checksum');
    assert.equal(answer.headers['transfer-encoding'], 'chunked');
    assert.deepEqual(answer.trailers, { 'x-checksum': 'sha256=abc' });
  });

  it('drops Trailer where the client cannot get trailer fields: HEAD, HTTP/1.0, an answer with a Content-Length', async () => {
    const head = await request(`${gateway.url}/svc/trailers`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.trailer, undefined);
    assert.equal(head.headers['set-cookie']?.length, 2);

    const socket = await StepSocket.connect(gateway.port);
    await socket.write('GET /svc/trailers HTTP/1.0\r\nHost: x\r\n\r\n');
    await socket.closed;
    const old = socket.text();
    assert.match(old, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(old, /\r\ntrailer:/i);
    assert.ok(old.endsWith('part one, part two'), old);

    const fixed = await request(`${gateway.url}/svc/trailer-length`);
    assert.equal(fixed.status, 200);
    assert.equal(fixed.text, 'fixed');
    assert.equal(fixed.headers.trailer, undefined);
    assert.equal(fixed.headers['content-length'], '5');
  });

  it('takes several upstreams in turn', async () => {
    const names = [];
    for (let i = 0; i < 4; i++) names.push((JSON.parse((await request(`${gateway.url}/rr/echo`)).text) as Echo).name);
    assert.deepEqual(names.sort(), ['a', 'a', 'b', 'b']);
  });

  it('retries an idempotent request that broke off on another upstream, never a POST', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gateway.url}/rr/reset-if/a`);
      assert.equal(res.status, 200);
      assert.equal(res.text, 'ok b');
    }
    // Two POSTs in turn: one lands on a, which breaks off; it is not sent again.
    const answers = [];
    for (let i = 0; i < 2; i++) answers.push(await request(`${gateway.url}/rr/reset-if/a`, { method: 'POST', headers: { 'content-type': 'text/plain' } }, 'body'));
    assert.deepEqual(answers.map((r) => r.status).sort(), [200, 502]);
    const bad = answers.find((r) => r.status === 502)!;
    assert.equal(JSON.parse(bad.text).code, 'BadGateway');
    assert.match(JSON.parse(bad.text).message, /broke off before answering/);
  });

  it('replaces the upstream CORS headers with the route policy', async () => {
    const res = await request(`${gateway.url}/cors/cors`, { headers: { origin: ORIGIN } });
    assert.equal(res.text, 'cors');
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.equal(res.headers['access-control-expose-headers'], 'X-Upstream');
    assert.equal(res.headers.vary, 'Accept-Encoding, Origin');
    const preflight = await request(`${gateway.url}/cors/anything`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'GET' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], ORIGIN);
  });

  it('answers 504 Timeout from the catalogue, with the request id and CORS headers', async () => {
    const res = await request(`${gateway.url}/slow/2000`, { headers: { origin: ORIGIN } });
    assert.equal(res.status, 504);
    const body = JSON.parse(res.text);
    assert.equal(body.code, 'Timeout');
    assert.match(body.message, /upstream did not answer within 300 ms/);
    assert.ok(res.headers['x-request-id']);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
  });

  it('refuses a body over the route bodyLimit with 413 before the upstream sees it', async () => {
    const res = await request(`${gateway.url}/small/count`, { method: 'POST' }, 'x'.repeat(2048));
    assert.equal(res.status, 413);
    assert.equal(JSON.parse(res.text).code, 'PayloadTooLarge');
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gateway.url}/small/count`, { method: 'POST' }, (r) => (r.resume(), resolve(r.statusCode!)));
      req.on('error', reject);
      req.write('x'.repeat(600));
      req.end('y'.repeat(600));
    });
    assert.equal(chunked, 413);
    const fine = await request(`${gateway.url}/small/count`, { method: 'POST' }, 'x'.repeat(1000));
    assert.equal(JSON.parse(fine.text).bytes, 1000);
  });

  it('answers 401 on auth: required before anything reaches the upstream', async () => {
    const res = await request(`${gateway.url}/private/echo`);
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.text).code, 'Unauthenticated');
    const events = JSON.parse((await request(`${a.url}/events`)).text) as { url: string }[];
    assert.ok(!events.some((e) => e.url.startsWith('/private')));
  });

  it('aborts the upstream request when the client hangs up', async () => {
    const id = `hangup-${Date.now()}`;
    await new Promise<void>((resolve) => {
      const req = http.request(`${gateway.url}/svc/slow/3000`, { headers: { 'x-request-id': id } });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    let seen: { what: string; id: string }[] = [];
    for (let i = 0; i < 40 && !seen.some((e) => e.id === id); i++) {
      await new Promise((r) => setTimeout(r, 50));
      seen = JSON.parse((await request(`${a.url}/events`)).text);
    }
    assert.deepEqual(seen.filter((e) => e.id === id).map((e) => e.what), ['closed-early']);
    const line = await gateway.waitForLog((l) => l.reqId === id && typeof l.status === 'number');
    assert.equal(line.status, 499);
  });

  it('sends traffic away from a refusing upstream, ejects it, and answers 502 when all are down', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await request(`${gateway.url}/pair/echo`, { method: i % 2 ? 'POST' : 'GET' }, i % 2 ? 'payload' : undefined);
      assert.equal(res.status, 200, res.text);
      const echo = JSON.parse(res.text) as Echo;
      assert.equal(echo.name, 'c');
      if (i % 2) assert.equal(echo.bytes, 7);
    }
    const ejected = gateway.logs().filter((l) => l.msg === 'upstream taken out of rotation' && l.upstream === 'http://127.0.0.1:1');
    assert.equal(ejected.length, 1, 'ejected once, then left alone during the cool-down');

    await c.stop();
    const res = await request(`${gateway.url}/pair/echo`, { headers: { origin: ORIGIN } });
    assert.equal(res.status, 502);
    const body = JSON.parse(res.text);
    assert.equal(body.code, 'BadGateway');
    assert.match(body.message, /could not be reached/);
    assert.ok(res.headers['x-request-id']);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);

    // Back on the same port: served again once it answers.
    c = await startUpstream('c', c.port);
    let status = 0;
    for (let i = 0; i < 3 && status !== 200; i++) status = (await request(`${gateway.url}/pair/echo`)).status;
    assert.equal(status, 200);
  });

  it('leaves handler routes as they were', async () => {
    assert.equal((await request(`${gateway.url}/hello`)).text, 'hello');
  });
});

describe('proxy route validation', () => {
  it('refuses a route with both handler and proxy, and a rewrite naming an unknown parameter', async () => {
    const dir = await makeProject({
      'functions/hello.ts': `import { httpAction } from 'portico';\nexport default httpAction(async () => new Response('hello'));\n`,
      'routes.yaml': routesYaml(`  - path: /a
    method: GET
    handler: hello
    proxy: { upstream: http://127.0.0.1:9 }
  - path: /b/:id
    method: GET
    proxy: { upstream: http://127.0.0.1:9, rewrite: "/x/{name}" }
  - path: /c
    method: GET
    proxy: { upstream: "ftp://nope" }
  - path: /d
    method: GET`),
    });
    try {
      const { code, stdout, stderr } = await runCli(['validate', '-c', `${dir}/routes.yaml`]);
      const out = stdout + stderr;
      assert.equal(code, 1, out);
      assert.match(out, /routes\.yaml:\d+:\d+: error: route has both handler and proxy.*\[routes\/handler-or-proxy\]/);
      assert.match(out, /rewrite names \{name\}.*\[proxy\/unknown-param\]/);
      assert.match(out, /ftp:\/\/nope/);
      assert.match(out, /route is missing required key 'handler'.*\[schema\/required\]/);
    } finally {
      await removeProject(dir);
    }
  });
});

describe('proxy forwarding headers behind a trusted proxy', () => {
  it('appends to X-Forwarded-For and Forwarded from a trusted peer and keeps its scheme and host', async () => {
    const upstream = await startUpstream('t');
    const dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /t/
    method: GET
    proxy: { upstream: ${upstream.url}, stripPrefix: true }`, 'server: { trustProxy: loopback }'),
    });
    const gateway = await startGateway(dir);
    try {
      const res = await request(`${gateway.url}/t/echo`, {
        headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example.com', forwarded: 'for=203.0.113.7;proto=https;host=shop.example.com' },
      });
      const echo = JSON.parse(res.text) as Echo;
      assert.equal(echo.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
      assert.equal(echo.headers['x-forwarded-proto'], 'https');
      assert.equal(echo.headers['x-forwarded-host'], 'shop.example.com');
      assert.equal(echo.headers.forwarded, 'for=203.0.113.7;proto=https;host=shop.example.com, for=127.0.0.1;proto=https;host="shop.example.com"');
    } finally {
      await gateway.stop();
      await upstream.stop();
      await removeProject(dir);
    }
  });
});

describe('proxy and Expect: 100-continue', () => {
  it('sends 100 Continue when the upstream asks for the body, and the body arrives whole', async () => {
    const upstream = await startUpstream('e');
    const dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /e/
    method: POST
    proxy: { upstream: ${upstream.url}, stripPrefix: true }`),
    });
    const gateway = await startGateway(dir);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${gateway.url}/e/count`, { method: 'POST', headers: { expect: '100-continue', 'content-length': '5' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(text));
        });
        req.on('continue', () => req.end('hello'));
        req.on('error', reject);
        req.setTimeout(5000, () => reject(new Error('no 100 Continue within 5 s')));
      });
      assert.deepEqual(JSON.parse(answer), { bytes: 5, name: 'e' });
    } finally {
      await gateway.stop();
      await upstream.stop();
      await removeProject(dir);
    }
  });
});
