import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// CORS as docs/http.md specifies it, over a real socket: the top-level policy
// merged with each route's, `cors: false`, generated preflights (exact
// methods, headers, max-age, credentials), origin lists and subdomain
// patterns, Vary: Origin appended to the handler's own, CORS headers on the
// gateway's own error answers, 403 for a disallowed preflight, and a
// config's own OPTIONS route keeping its handler.

const functions = {
  'functions/c.ts': `
import { httpAction } from 'portico';

export const ok = httpAction(async (_ctx, request) =>
  new Response('ok ' + request.method, { headers: { 'x-total': '3', 'x-secret': 's' } }));

export const vary = httpAction(async (ctx) => {
  switch (ctx.params.kind) {
    case 'accept-encoding': return new Response('v', { headers: { Vary: 'Accept-Encoding' } });
    case 'origin': return new Response('v', { headers: { vary: 'Origin' } });
    case 'lower': return new Response('v', { headers: { vary: 'accept, origin' } });
    case 'star': return new Response('v', { headers: { vary: '*' } });
    case 'headers': {
      const headers = new Headers();
      headers.append('vary', 'Accept');
      headers.append('vary', 'Cookie');
      return new Response('v', { headers });
    }
    case 'none': return new Response('v');
  }
  return new Response('unknown', { status: 400 });
});

export const options = httpAction(async (_ctx, request) =>
  new Response('custom options for ' + request.method, { status: 200, headers: { 'x-own-options': 'yes' } }));

export const read = httpAction(async (_ctx, request) => new Response(await request.text()));
export const boom = httpAction(async () => { throw new Error('boom'); });
export const slow = httpAction(() => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('late')), 3000)));
`,
};

const ALLOWED = 'https://app.example.com';
const PARTNER = 'https://partner.example.org';

const corsBlock = `
cors:
  origins: ["${ALLOWED}", "https://*.trusted.com"]
  allowHeaders: [Content-Type, X-Custom]
  exposeHeaders: [x-request-id, x-total]
  maxAge: 600
auth:
  providers:
    - { issuer: "https://issuer.test", audience: portico-test, jwks: ./jwks.json }
`;

const routes = `
  - { path: /items, method: [GET, POST], handler: "c:ok" }
  - { path: /items, method: DELETE, handler: "c:ok", cors: false }
  - { path: /items/:id, method: [GET, PUT], handler: "c:ok" }
  - { path: /own, method: [GET, PATCH], handler: "c:ok", cors: { origins: ["${PARTNER}"], credentials: true, maxAge: 60 } }
  - { path: /off, method: GET, handler: "c:ok", cors: false }
  - { path: /public, method: [GET, POST], handler: "c:ok", cors: { origins: ["*"] } }
  - { path: /vary/:kind, method: GET, handler: "c:vary" }
  - { path: /custom-options, method: [GET, OPTIONS], handler: "c:options" }
  - { path: /secure, method: GET, handler: "c:ok", auth: required }
  - { path: /big, method: POST, handler: "c:read", bodyLimit: 100b }
  - { path: /boom, method: GET, handler: "c:boom" }
  - { path: /slow, method: GET, handler: "c:slow", timeout: 300ms }
  - { pathPrefix: /files/, method: GET, handler: "c:ok" }
`;

async function jwksFile(): Promise<string> {
  const { publicKey } = await generateKeyPair('ES256');
  return JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
}

const corsHeaderNames = (headers: Headers) => [...headers.keys()].filter((name) => name.startsWith('access-control-'));
const varyTokens = (headers: Headers) => (headers.get('vary') ?? '').split(',').map((token) => token.trim().toLowerCase()).filter(Boolean);

describe('CORS', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes, corsBlock), 'jwks.json': await jwksFile(), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const preflight = (path: string, origin: string, method: string, requestHeaders?: string) =>
    fetch(gateway.url + path, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': method, ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}) },
    });
  const from = (path: string, origin: string, init: RequestInit = {}) => fetch(gateway.url + path, { ...init, headers: { origin, ...(init.headers as Record<string, string>) } });

  describe('preflights', () => {
    test('an allowed origin gets 204 with its origin, the exact CORS methods of the path, headers and max-age', async () => {
      const response = await preflight('/items', ALLOWED, 'POST', 'content-type, x-custom');
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
      // DELETE is declared on /items too, but with `cors: false`.
      assert.equal(response.headers.get('access-control-allow-methods'), 'GET, POST');
      assert.equal(response.headers.get('access-control-allow-headers'), 'Content-Type, X-Custom');
      assert.equal(response.headers.get('access-control-max-age'), '600');
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
      assert.equal(response.headers.get('access-control-expose-headers'), null, 'expose headers belong to actual responses');
      assert.ok(varyTokens(response.headers).includes('origin'));
      assert.ok(response.headers.get('x-request-id'));
      assert.equal(await response.text(), '');
    });

    test('each path lists its own methods', async () => {
      const response = await preflight('/items/7', ALLOWED, 'PUT');
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-methods'), 'GET, PUT');
      const prefix = await preflight('/files/a/b.txt', 'https://x.trusted.com', 'GET');
      assert.equal(prefix.status, 204);
      assert.equal(prefix.headers.get('access-control-allow-methods'), 'GET');
    });

    test('a method of the path with `cors: false`, or not declared at all, is not offered', async () => {
      for (const method of ['DELETE', 'PATCH']) {
        const response = await preflight('/items', ALLOWED, method);
        const offered = (response.headers.get('access-control-allow-methods') ?? '').split(', ');
        assert.ok(!offered.includes(method), `${method} offered: ${offered}`);
      }
    });

    test("a route's own policy is merged over the top-level one: its origins replace the list, unset fields are inherited", async () => {
      const partner = await preflight('/own', PARTNER, 'PATCH');
      assert.equal(partner.status, 204);
      assert.equal(partner.headers.get('access-control-allow-origin'), PARTNER);
      assert.equal(partner.headers.get('access-control-allow-credentials'), 'true');
      assert.equal(partner.headers.get('access-control-max-age'), '60');
      assert.equal(partner.headers.get('access-control-allow-headers'), 'Content-Type, X-Custom');
      assert.equal(partner.headers.get('access-control-allow-methods'), 'GET, PATCH');
      const topLevelOrigin = await preflight('/own', ALLOWED, 'GET');
      assert.equal(topLevelOrigin.status, 403);
    });

    test('origin "*" without credentials answers with a literal *', async () => {
      const response = await preflight('/public', 'https://anyone.example.net', 'POST');
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      assert.equal(response.headers.get('access-control-allow-methods'), 'GET, POST');
      const actual = await from('/public', 'https://anyone.example.net');
      assert.equal(actual.headers.get('access-control-allow-origin'), '*');
    });

    test('a disallowed origin gets 403 CorsOriginDenied without any CORS header', async () => {
      const response = await preflight('/items', 'https://evil.example.com', 'POST');
      assert.equal(response.status, 403);
      assert.deepEqual(corsHeaderNames(response.headers), []);
      assert.equal((await response.json()).code, 'CorsOriginDenied');
      assert.ok(response.headers.get('x-request-id'));
    });

    test('a plain OPTIONS without Origin learns what the path allows', async () => {
      const response = await fetch(`${gateway.url}/items`, { method: 'OPTIONS' });
      assert.equal(response.status, 204);
      assert.deepEqual(new Set(response.headers.get('allow')!.split(', ')), new Set(['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS']));
      assert.deepEqual(corsHeaderNames(response.headers), []);
    });

    test('a path whose routes all have `cors: false` gets no generated preflight', async () => {
      const response = await preflight('/off', ALLOWED, 'GET');
      assert.equal(response.status, 405);
      assert.deepEqual(corsHeaderNames(response.headers), []);
    });

    test('a config that declares OPTIONS itself keeps its handler, preflight or not', async () => {
      const asPreflight = await preflight('/custom-options', ALLOWED, 'GET');
      assert.equal(asPreflight.status, 200);
      assert.equal(asPreflight.headers.get('x-own-options'), 'yes');
      assert.equal(await asPreflight.text(), 'custom options for OPTIONS');
      const plain = await fetch(`${gateway.url}/custom-options`, { method: 'OPTIONS' });
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get('x-own-options'), 'yes');
    });
  });

  describe('origins', () => {
    for (const [origin, allowed] of [
      [ALLOWED, true],
      ['https://sub.trusted.com', true],
      ['https://a.b.trusted.com', true],
      ['https://trusted.com', false],
      ['http://sub.trusted.com', false],
      ['https://evil-trusted.com', false],
      ['https://sub.trusted.com.evil.com', false],
      ['https://sub.trusted.com:8443', false],
      ['https://app.example.com.evil.com', false],
      ['http://app.example.com', false],
      ['null', false],
    ] as const) {
      test(`${origin} is ${allowed ? 'allowed' : 'refused'}`, async () => {
        const pre = await preflight('/items', origin, 'GET');
        assert.equal(pre.status, allowed ? 204 : 403);
        const actual = await from('/items', origin);
        assert.equal(actual.status, 200, 'the handler answers either way; the browser decides');
        assert.equal(actual.headers.get('access-control-allow-origin'), allowed ? origin : null);
        assert.ok(varyTokens(actual.headers).includes('origin'));
      });
    }
  });

  describe('actual responses', () => {
    test('an allowed origin gets its origin and the expose headers, and nothing preflight-only', async () => {
      const response = await from('/items', ALLOWED);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
      assert.equal(response.headers.get('access-control-expose-headers'), 'x-request-id, x-total');
      assert.equal(response.headers.get('access-control-allow-methods'), null);
      assert.equal(response.headers.get('access-control-max-age'), null);
      assert.equal(response.headers.get('x-total'), '3');
    });

    test('credentials: true adds Allow-Credentials and never uses *', async () => {
      const response = await from('/own', PARTNER);
      assert.equal(response.headers.get('access-control-allow-origin'), PARTNER);
      assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
    });

    test('a request without Origin gets no CORS headers, but Vary: Origin', async () => {
      const response = await fetch(`${gateway.url}/items`);
      assert.deepEqual(corsHeaderNames(response.headers), []);
      assert.deepEqual(varyTokens(response.headers), ['origin']);
    });

    test('`cors: false` turns CORS off for that route: no CORS headers, no Vary: Origin', async () => {
      const response = await from('/off', ALLOWED);
      assert.equal(response.status, 200);
      assert.deepEqual(corsHeaderNames(response.headers), []);
      assert.equal(response.headers.get('vary'), null);
      const deleted = await from('/items', ALLOWED, { method: 'DELETE' });
      assert.equal(deleted.status, 200);
      assert.deepEqual(corsHeaderNames(deleted.headers), []);
    });

    for (const [kind, expected] of [
      ['accept-encoding', 'Accept-Encoding, Origin'],
      ['origin', 'Origin'],
      ['lower', 'accept, origin'],
      ['star', '*'],
      ['headers', 'Accept, Cookie, Origin'],
      ['none', 'Origin'],
    ] as const) {
      test(`Vary: Origin is appended to the handler's own Vary, never overwriting it (${kind})`, async () => {
        const response = await from(`/vary/${kind}`, ALLOWED);
        assert.equal(response.headers.get('vary'), expected);
        assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
      });
    }
  });

  describe("the gateway's own answers", () => {
    const cases: [string, number, string, RequestInit?][] = [
      ['/secure', 401, 'Unauthenticated'],
      ['/nowhere', 404, ''],
      ['/items', 405, 'MethodNotAllowed', { method: 'PUT', body: 'x' }],
      ['/big', 413, 'PayloadTooLarge', { method: 'POST', body: 'x'.repeat(1000) }],
      ['/boom', 500, 'Server Error'],
      ['/slow', 504, 'Timeout'],
    ];
    for (const [path, status, code, init] of cases) {
      test(`a ${status} carries the CORS headers for an allowed origin, and none for another`, async () => {
        const response = await from(path, ALLOWED, init);
        assert.equal(response.status, status);
        assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
        assert.equal(response.headers.get('access-control-expose-headers'), 'x-request-id, x-total');
        assert.ok(varyTokens(response.headers).includes('origin'));
        const text = await response.text();
        if (code) assert.ok(text.includes(code), `${status} body: ${text}`);

        const refused = await from(path, 'https://evil.example.com', init);
        assert.equal(refused.status, status);
        assert.deepEqual(corsHeaderNames(refused.headers), []);
        await refused.arrayBuffer();
      });
    }

    test('a 405 keeps its Allow header beside the CORS headers', async () => {
      const response = await from('/items/3', ALLOWED, { method: 'DELETE' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'GET, HEAD, PUT, OPTIONS');
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
    });

    test('a 401 carries the CORS headers of its route, credentials included', async () => {
      const response = await from('/secure', ALLOWED);
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED);
    });
  });
});

describe('CORS without a top-level policy', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    const own = `
  - { path: /plain, method: GET, handler: "c:ok" }
  - { path: /opted-in, method: [GET, POST], handler: "c:ok", cors: { origins: ["${ALLOWED}"] } }
`;
    dir = await makeProject({ 'routes.yaml': routesYaml(own), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('a route that declares nothing has no CORS: no headers, no Vary, no preflight', async () => {
    const response = await fetch(`${gateway.url}/plain`, { headers: { origin: ALLOWED } });
    assert.equal(response.status, 200);
    assert.deepEqual(corsHeaderNames(response.headers), []);
    assert.equal(response.headers.get('vary'), null);
    const pre = await fetch(`${gateway.url}/plain`, { method: 'OPTIONS', headers: { origin: ALLOWED, 'access-control-request-method': 'GET' } });
    assert.equal(pre.status, 405);
  });

  test('a route that declares a policy has it, with the defaults for what it leaves out', async () => {
    const pre = await fetch(`${gateway.url}/opted-in`, { method: 'OPTIONS', headers: { origin: ALLOWED, 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, POST');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type');
    assert.equal(pre.headers.get('access-control-max-age'), '86400');
    const actual = await fetch(`${gateway.url}/opted-in`, { headers: { origin: ALLOWED } });
    assert.equal(actual.headers.get('access-control-allow-origin'), ALLOWED);
  });

  test('a 404 gets no CORS headers when there is no top-level policy', async () => {
    const response = await fetch(`${gateway.url}/nowhere`, { headers: { origin: ALLOWED } });
    assert.equal(response.status, 404);
    assert.deepEqual(corsHeaderNames(response.headers), []);
  });
});
