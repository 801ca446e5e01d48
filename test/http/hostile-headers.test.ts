import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { StepSocket } from '../helpers/socket.js';

// Values a client controls (a token's claims, Origin, the headers a preflight
// asks for) never break the head of an answer: no 500 from writeHead
// refusing a character, no client bytes copied into a header that should
// not hold them. Over raw sockets, to see the exact bytes of the head.

const files = {
  'functions/app.ts': `
import { httpAction } from 'portico';
export const secret = httpAction(async () => new Response('secret'));
export const badHeader = httpAction(async (ctx) => {
  const headers = { 'x-name': ctx.params.kind === 'control' ? 'a\\u0001b' : 'price €' };
  if (ctx.params.kind === 'stream') return new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('x')); c.close(); } }), { headers });
  if (ctx.params.kind === 'empty') return new Response(null, { status: 204, headers });
  return new Response('x', { headers });
});
export const badStatusText = httpAction(async () => new Response('x', { status: 200, statusText: 'Fine ✓' }));
`,
  'jwks.json': JSON.stringify({ keys: [] }),
};

const routes = `
  - { path: /secret, method: GET, handler: "app:secret", auth: required }
  - { path: /bad-header/:kind, method: GET, handler: "app:badHeader" }
  - { path: /bad-status-text, method: GET, handler: "app:badStatusText" }
`;

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token that parses (its signature is never checked: no provider has its issuer). */
const tokenFrom = (issuer: string) => `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url({ iss: issuer, sub: 'x', exp: 9_999_999_999 })}.c2ln`;

interface RawAnswer {
  status: number;
  head: Map<string, string[]>;
  headText: string;
  body: string;
}

async function raw(port: number, request: string | Buffer): Promise<RawAnswer> {
  const socket = await StepSocket.connect(port);
  await socket.write(request);
  await socket.closed;
  const text = socket.text();
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `no complete head in ${JSON.stringify(text)}`);
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const head = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    head.set(name, [...(head.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { status: Number(statusLine!.split(' ')[1]), head, headText: text.slice(0, end), body: text.slice(end + 4) };
}

const get = (path: string, headers: string | Buffer = '') =>
  Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n`), Buffer.from(headers), Buffer.from('\r\n')]);

describe('untrusted values in response headers', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    const extra = `auth:\n  providers:\n    - { issuer: https://issuer.test, jwks: ./jwks.json }`;
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, extra), ...files });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  // Bug: the issuer went into WWW-Authenticate's error_description as it was,
  // writeHead threw ERR_INVALID_CHAR, and the answer was a 500.
  test('a token whose issuer holds non-Latin-1 characters gets 401 with an ASCII challenge, on an auth: required route', async () => {
    const issuer = 'https://exämple.test/€/"quoted"\\';
    const answer = await raw(gateway.port, get('/secret', `Authorization: Bearer ${tokenFrom(issuer)}\r\n`));
    assert.equal(answer.status, 401, answer.body);
    assert.equal(JSON.parse(answer.body).code, 'NoAuthProvider');
    const [challenge] = answer.head.get('www-authenticate')!;
    assert.match(challenge!, /^Bearer realm="portico", error="invalid_token", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/);
    // Encoded, not lost: the description still names the issuer.
    assert.ok(challenge!.includes('https://ex%C3%A4mple.test/%E2%82%AC/'), challenge);
  });

  test('a token whose claims hold control characters or lone surrogates is 401 too', async () => {
    for (const issuer of ['https://a.test/\u0000\r\nSet-Cookie: x=1', 'https://a.test/\ud800']) {
      const answer = await raw(gateway.port, get('/secret', `Authorization: Bearer ${tokenFrom(issuer)}\r\n`));
      assert.equal(answer.status, 401, answer.body);
      assert.equal(answer.head.get('set-cookie'), undefined);
      assert.match(answer.head.get('www-authenticate')![0]!, /^[\x20-\x7e]+$/);
    }
  });

  // Bug: /api mirrored any Origin, bytes and all, into Access-Control-Allow-Origin.
  test('the function API mirrors only a well-formed Origin', async () => {
    const call = (origin: Buffer) =>
      raw(
        gateway.port,
        Buffer.concat([
          Buffer.from('POST /api/query HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\nOrigin: '),
          origin,
          Buffer.from('\r\n\r\n{}'),
        ]),
      );
    const good = await call(Buffer.from('https://app.example.com:8443'));
    assert.deepEqual(good.head.get('access-control-allow-origin'), ['https://app.example.com:8443']);
    for (const origin of [Buffer.from([0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0xe9, 0xff]), Buffer.from('https://a.test, https://b.test'), Buffer.from('javascript:alert(1)')]) {
      const answer = await call(origin);
      assert.equal(answer.status, 400);
      assert.equal(answer.head.get('access-control-allow-origin'), undefined, answer.headText);
      assert.match(answer.headText, /^[\x20-\x7e\r\n]*$/);
    }
  });

  test('a function API preflight echoes Access-Control-Request-Headers only when it is a list of header names', async () => {
    const preflight = (requested: string | Buffer) =>
      raw(
        gateway.port,
        Buffer.concat([
          Buffer.from('OPTIONS /api/query HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nOrigin: https://app.test\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: '),
          Buffer.from(requested),
          Buffer.from('\r\n\r\n'),
        ]),
      );
    assert.deepEqual((await preflight('content-type, authorization')).head.get('access-control-allow-headers'), ['content-type, authorization']);
    const hostile = await preflight(Buffer.from([0x78, 0x2d, 0xe9, 0x3b, 0x20, 0x22]));
    assert.equal(hostile.status, 204);
    assert.equal(hostile.head.get('access-control-allow-headers'), undefined);
  });

  test("a handler's header value Node cannot send is the handler's failure: a clean 500 that names the header", async () => {
    for (const kind of ['euro', 'control', 'stream', 'empty']) {
      const answer = await raw(gateway.port, get(`/bad-header/${kind}`));
      assert.equal(answer.status, 500, answer.body);
      // Bugs: the status line said "500 OK", the reason phrase of the 200 that
      // failed; after a refused 204 the 500 had a Content-Length and no body.
      assert.match(answer.headText, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
      const body = JSON.parse(answer.body);
      assert.match(body.code, /Server Error: Uncaught TypeError: .*x-name/, body.code);
      assert.ok(answer.head.get('x-request-id'));
    }
    // Bug: the 500 that followed kept the refused status text, writeHead threw
    // again, and the request never got an answer.
    const status = await raw(gateway.port, get('/bad-status-text'));
    assert.equal(status.status, 500, status.body);
    assert.match(status.headText, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.match(JSON.parse(status.body).code, /statusMessage/);
  });

  test('the gateway keeps serving after all of it', async () => {
    const answer = await raw(gateway.port, get('/bad-status-text'));
    assert.equal(answer.status, 500);
    assert.equal((await fetch(`${gateway.url}/_portico/health`)).status, 200);
  });
});
