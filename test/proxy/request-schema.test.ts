// request: schemas on proxy routes, against a running gateway and a real
// upstream process: a request that passes goes upstream byte for byte (a
// checked body with its own Content-Length); one that fails gets the
// catalogue's answer (status, code, request id, CORS headers) and the
// upstream never sees it. A route without a body schema still streams.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';
import { textRequest as send, type TextAnswer as Answer } from '../helpers/http.js';

const ORIGIN = 'https://app.example.com';

const NOTE = JSON.stringify({
  type: 'object',
  required: ['author', 'text'],
  additionalProperties: false,
  properties: { author: { type: 'string', minLength: 1 }, text: { type: 'string' }, tags: { type: 'array', items: { type: 'string' }, default: [] } },
});

describe('request schemas on proxy routes', () => {
  let upstream: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream('schema');
    dir = await makeProject({
      'functions/.keep': '',
      'schemas/note.json': NOTE,
      'routes.yaml': routesYaml(
        `  - path: /notes/:board
    method: [POST, PUT]
    bodyLimit: 1kb
    cors: { origins: ["${ORIGIN}"] }
    proxy: { upstream: ${upstream.url}, rewrite: "/mirror/{board}" }
    request:
      body: { $ref: ./schemas/note.json }
      params: { type: object, properties: { board: { type: integer, minimum: 1 } } }
      query: { type: object, properties: { dryRun: { type: boolean } }, additionalProperties: false }
      headers: { type: object, required: [x-client], properties: { x-client: { type: string, pattern: "^[a-z]+$" } } }
  - pathPrefix: /stream/
    method: POST
    proxy: { upstream: ${upstream.url}, stripPrefix: true }
    request:
      query: { type: object, required: [key] }
  - pathPrefix: /ws/
    method: GET
    cors: { origins: ["${ORIGIN}"] }
    proxy: { upstream: ${upstream.url}, stripPrefix: true, websocket: true }
    request:
      query: { type: object, required: [token] }`,
      ),
    });
    gateway = await startGateway(dir);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
    if (dir) await removeProject(dir);
  });

  const upstreamRequests = async () => Number((await send(`${upstream.url}/requests`, {})).text);
  const headers = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', origin: ORIGIN, 'x-client': 'web', ...extra });

  it('forwards a valid request byte for byte: the body as sent, with a Content-Length, the path and query as they came', async () => {
    const text = '{ "author" : "ada",\n  "text": "h\\u00e9llo ✓" }';
    const before = await upstreamRequests();
    const sized = await send(`${gateway.url}/notes/007?dryRun=true`, { method: 'POST', headers: headers() }, text);
    assert.equal(sized.status, 200, sized.text);
    assert.equal(sized.text, text);
    assert.equal(sized.headers['x-seen-url'], '/mirror/007?dryRun=true', 'params and query go upstream as sent, not coerced');
    assert.equal(sized.headers['x-seen-content-length'], String(Buffer.byteLength(text)));
    assert.equal(sized.headers['x-seen-transfer-encoding'], 'none');
    assert.equal(sized.headers['access-control-allow-origin'], ORIGIN);

    // Sent chunked by the client: read whole, checked, and sent on with the length of those bytes.
    const chunked = await send(`${gateway.url}/notes/7`, { method: 'PUT', headers: headers() }, ['{"author":', '"ada","text":"hi"}']);
    assert.equal(chunked.status, 200, chunked.text);
    assert.equal(chunked.text, '{"author":"ada","text":"hi"}');
    assert.equal(chunked.headers['x-seen-content-length'], '28');
    assert.equal(chunked.headers['x-seen-transfer-encoding'], 'none');
    assert.equal(await upstreamRequests(), before + 2);
  });

  const refusals: [string, () => Promise<Answer>, number, string, string | null][] = [
    ['a query that does not match', () => send(`${gateway.url}/notes/7?dryRun=maybe`, { method: 'POST', headers: headers() }, '{"author":"a","text":"t"}'), 400, 'BadRequest', '/query/dryRun'],
    ['params that do not match', () => send(`${gateway.url}/notes/zero`, { method: 'POST', headers: headers() }, '{"author":"a","text":"t"}'), 400, 'BadRequest', '/params/board'],
    ['headers that do not match', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers({ 'x-client': 'WEB' }) }, '{"author":"a","text":"t"}'), 400, 'BadRequest', '/headers/x-client'],
    ['a body that does not match', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers() }, '{"author":5,"text":"t"}'), 400, 'BadRequest', '/body/author'],
    ['malformed JSON', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers() }, '{"author": '), 400, 'BadRequest', '/body'],
    ['a body that is not JSON', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers({ 'content-type': 'text/plain' }) }, 'author=a'), 415, 'UnsupportedMediaType', null],
    ['a declared body over bodyLimit', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers() }, JSON.stringify({ author: 'a', text: 'x'.repeat(2000) })), 413, 'PayloadTooLarge', null],
    ['a chunked body that crosses bodyLimit', () => send(`${gateway.url}/notes/7`, { method: 'POST', headers: headers() }, ['{"author":"a","text":"', 'x'.repeat(2000), '"}']), 413, 'PayloadTooLarge', null],
  ];

  for (const [what, request, status, code, path] of refusals) {
    it(`refuses ${what}: ${status} ${code} with the request id and CORS headers, and the upstream sees nothing`, async () => {
      const before = await upstreamRequests();
      const answer = await request();
      assert.equal(answer.status, status, answer.text);
      const body = JSON.parse(answer.text);
      assert.equal(body.code, code);
      if (path !== null) assert.ok(body.errors.some((e: { path: string }) => e.path === path), answer.text);
      assert.match(String(answer.headers['x-request-id']), /\S/);
      assert.equal(answer.headers['access-control-allow-origin'], ORIGIN);
      assert.equal(await upstreamRequests(), before);
    });
  }

  it('still streams the body of a route without a body schema: the upstream has the first bytes before the client sent the rest', async () => {
    assert.equal((await send(`${gateway.url}/stream/count`, { method: 'POST' }, 'x')).status, 400, 'the query schema applies');
    const marker = `/count?key=${Date.now()}`;
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = http.request(`${gateway.url}/stream${marker}`, { method: 'POST' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      });
      req.on('error', reject);
      req.write('a'.repeat(1000));
      const waitForFirstBytes = async () => {
        for (let i = 0; i < 100; i++) {
          const events = JSON.parse((await send(`${upstream.url}/events`, {})).text) as { what: string; url: string }[];
          if (events.some((e) => e.what === 'first-bytes' && e.url === marker)) return req.end('b'.repeat(1000));
          await new Promise((r) => setTimeout(r, 20));
        }
        req.destroy(new Error('the upstream never saw the first bytes while the body was still open: the body was held back'));
      };
      waitForFirstBytes().catch(reject);
    });
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.text).bytes, 2000);
  });

  it('checks a WebSocket handshake before it reaches the upstream', async () => {
    const before = await upstreamRequests();
    const upgrade = { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', origin: ORIGIN } };
    const refused = await send(`${gateway.url}/ws/chat`, upgrade);
    assert.equal(refused.status, 400, refused.text);
    assert.equal(JSON.parse(refused.text).errors[0].path, '/query/token');
    assert.equal(refused.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(await upstreamRequests(), before);
    const accepted = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gateway.url}/ws/chat?token=t`, upgrade);
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode!);
      });
      req.on('response', (res) => resolve(res.statusCode!));
      req.on('error', reject);
      req.end();
    });
    assert.equal(accepted, 101);
    assert.equal(await upstreamRequests(), before + 1, 'only the handshake that passed reached the upstream');
  });

  it('shows the schemas of proxy routes in portico routes and in the OpenAPI document', async () => {
    const routes = await runCli(['routes', '--format', 'json', '-c', path.join(dir, 'routes.yaml')]);
    assert.equal(routes.code, 0, routes.stderr);
    const rows = JSON.parse(routes.stdout) as { path: string; policies: string }[];
    assert.match(rows.find((row) => row.path === '/notes/:board')!.policies, /request body,query,params,headers/);
    assert.match(rows.find((row) => row.path === '/stream/*')!.policies, /request query/);

    const openapi = await runCli(['openapi', '-c', path.join(dir, 'routes.yaml')]);
    assert.equal(openapi.code, 0, openapi.stderr);
    const notes = JSON.parse(openapi.stdout).paths['/notes/{board}'].post;
    assert.deepEqual(notes.requestBody.content['application/json'].schema, JSON.parse(NOTE));
    assert.equal(notes.requestBody.required, true);
    assert.deepEqual(
      notes.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name),
      ['dryRun'],
    );
  });
});

describe('request schemas on proxy routes in validate', () => {
  it('accepts schemas on a proxy route, and reports a broken one or a body schema on a GET route at FILE:LINE:COL', async () => {
    const dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /ok/
    method: POST
    proxy: { upstream: http://127.0.0.1:8081 }
    request: { body: { type: object }, query: { type: object } }
  - pathPrefix: /broken/
    method: POST
    proxy: { upstream: http://127.0.0.1:8081 }
    request:
      body: { type: objekt }
  - pathPrefix: /read/
    method: GET
    proxy: { upstream: http://127.0.0.1:8081 }
    request:
      body: { type: object }`),
    });
    try {
      const result = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
      const out = result.stdout + result.stderr;
      assert.equal(result.code, 1, out);
      assert.doesNotMatch(out, /routes\.yaml:(7|8|9|10):/, 'the valid proxy route is not reported');
      assert.match(out, /routes\.yaml:15:13: error: request\.body is not a valid JSON Schema: .*\[policies\/request-schema\]/);
      assert.match(out, /routes\.yaml:20:7: error: request\.body on a route whose methods \(GET\) carry no body: every request would be refused \[policies\/request-schema\]/);
    } finally {
      await removeProject(dir);
    }
  });
});
