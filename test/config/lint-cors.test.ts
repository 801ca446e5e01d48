import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkOrigin } from '../../src/config/index.js';
import { load, locations, only, yaml } from './helpers.js';

test('checkOrigin accepts *, exact origins with ports, IPv6 hosts and *.domain patterns', () => {
  for (const origin of ['*', 'https://app.example.com', 'http://localhost:5173', 'http://[::1]:8080', 'https://*.example.com', 'http://127.0.0.1']) {
    assert.equal(checkOrigin(origin), undefined, origin);
  }
});

test('checkOrigin refuses what a browser never sends, with the fix as hint', () => {
  const cases: [string, string, string | undefined][] = [
    ['https://app.example.com/', 'it ends with /', "remove the trailing /: 'https://app.example.com'"],
    ['https://app.example.com/path', 'an origin has no path', "write 'https://app.example.com'"],
    ['https://app.example.com?x=1', 'an origin has no query string', "write 'https://app.example.com'"],
    ['https://user:pw@app.example.com', 'an origin has no user info', "write 'https://app.example.com'"],
    ['app.example.com', 'it has no scheme', "write 'https://app.example.com'"],
    ['ftp://app.example.com', "the scheme must be http or https, not 'ftp'", undefined],
    ['HTTPS://app.example.com', 'the scheme must be lowercase', "write 'https://app.example.com'"],
    ['https://App.Example.com', 'browsers send the host in lowercase', "write 'https://app.example.com'"],
    ['https://app.example.com:443', 'browsers leave the default port :443 out of Origin', "write 'https://app.example.com'"],
    ['https://app.example.com:99999', "'99999' is not a port", undefined],
    ['https://api.*.example.com', 'a wildcard must be the whole first label', 'write it like https://*.example.com'],
    ['https://*example.com', 'a wildcard must be the whole first label', 'write it like https://*.example.com'],
    ['https://', 'it has no host', undefined],
    ['https://exa mple.com', "'exa mple.com' is not a valid host name", undefined],
  ];
  for (const [origin, reason, hint] of cases) {
    assert.deepEqual(checkOrigin(origin), hint === undefined ? { reason } : { reason, hint }, origin);
  }
  assert.match(checkOrigin('null')!.reason, /sandboxed/);
});

test('malformed origins are cors/malformed-origin at each origin, top-level and per route', async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origins:
        - https://app.example.com/
        - https://ok.example.com
    routes:
      - path: /a
        method: GET
        handler: a
        cors: { origins: [example.com] }
  `);
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['routes.yaml:4:7 cors/malformed-origin', 'routes.yaml:10:23 cors/malformed-origin']);
  assert.equal(result.diagnostics[0]!.message, "malformed origin 'https://app.example.com/': it ends with /");
  assert.equal(result.diagnostics[0]!.hint, "remove the trailing /: 'https://app.example.com'");
});

test("credentials with origin '*' at the top level is cors/credentials-wildcard, reported once", async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origins: ["*"]
      credentials: true
    routes:
      - { path: /a, method: GET, handler: a }
      - { path: /b, method: GET, handler: b, cors: { maxAge: 60 } }
  `);
  assert.deepEqual(locations(result), ['routes.yaml:4:16 cors/credentials-wildcard']);
});

test("a route whose merged policy combines credentials and '*' is cors/credentials-wildcard at what the route set", async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origins: ["*"]
    routes:
      - path: /a
        method: GET
        handler: a
        cors: { credentials: true }
      - path: /b
        method: GET
        handler: b
        cors: { credentials: true, origins: [https://app.example.com] }
  `);
  assert.deepEqual(locations(result), ['routes.yaml:8:26 cors/credentials-wildcard']);
  assert.match(result.diagnostics[0]!.message, /merged over the top-level one/);

  const viaOrigins = await load(yaml`
    version: 1
    cors:
      origins: [https://app.example.com]
      credentials: true
    routes:
      - { path: /a, method: GET, handler: a, cors: { origins: ["*"] } }
  `);
  assert.deepEqual(locations(viaOrigins), ['routes.yaml:6:59 cors/credentials-wildcard']);
});

test('CORS on with no origin allowed is a cors/empty-origins warning that does not block loading', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: POST
        handler: a
        cors: { allowHeaders: [Content-Type, Digest] }
  `);
  assert.deepEqual(locations(result), ['routes.yaml:6:5 cors/empty-origins']);
  assert.equal(result.diagnostics[0]!.severity, 'warning');
  assert.ok(result.config, 'warnings do not block');
  assert.deepEqual(result.config.routes[0]!.cors!.origins, []);

  const topLevel = await load(yaml`
    version: 1
    cors:
      maxAge: 60
    routes:
      - { path: /a, method: GET, handler: a }
  `);
  assert.deepEqual(locations(topLevel), ['routes.yaml:2:1 cors/empty-origins']);
});

test("an origins list with '*' and more is a cors/redundant-origins warning", async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origins: ["*", https://app.example.com]
    routes: []
  `);
  const d = only(result, 'cors/redundant-origins');
  assert.deepEqual([d.line, d.column, d.severity], [3, 12, 'warning']);
});

test('a misspelled origins key is not also reported as an empty origin list', async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origin: [https://app.example.com]
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:3 schema/unknown-key']);
});
