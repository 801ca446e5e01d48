// rateLimit with the memory store: the draft RateLimit fields on every
// answer, 429 with Retry-After before the handler runs, keys by address,
// header and path parameter, `false` on a route, the function API, and one
// budget across `serve --workers` rather than one per worker.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { get, HANDLERS } from './rate-limit-helpers.js';

const ORIGIN = 'https://app.example.com';

describe('rate limits in memory', () => {
  let dir: string;
  let gw: RunningGateway;
  before(async () => {
    dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'routes.yaml': routesYaml(
        `  - { path: /limited, method: GET, handler: h:hit }
  - { path: /calls, method: GET, handler: h:calls, rateLimit: false }
  - { path: /keyed, method: GET, handler: h:hit, rateLimit: { requests: 2, key: header:X-Api-Key, name: apikey } }
  - { path: /items/:id, method: GET, handler: h:hit, rateLimit: { requests: 2, per: 1m, key: param:id } }
  - { path: /forwarded, method: GET, handler: h:hit, rateLimit: { requests: 1 } }`,
        `cors: { origins: ["${ORIGIN}"] }
server: { trustProxy: true }
rateLimit: { requests: 3, per: 10s }`,
      ),
    });
    gw = await startGateway(dir, { env: { PORTICO_LOG_FORMAT: 'json' }, args: ['--log-format', 'json'] });
  });
  after(async () => {
    await gw?.stop();
    await removeProject(dir);
  });

  test('allowed answers carry RateLimit-Policy and RateLimit counting down', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await get(gw.port, '/limited', { headers: { 'x-forwarded-for': '203.0.113.1' } });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['ratelimit-policy'], '"default";q=3;w=10');
      seen.push(String(answer.headers.ratelimit));
    }
    assert.match(seen[0]!, /^"default";r=2;t=(10|9)$/);
    assert.match(seen[1]!, /^"default";r=1;t=\d+$/);
    assert.match(seen[2]!, /^"default";r=0;t=\d+$/);
  });

  test('over the limit: 429 with Retry-After, the draft fields and CORS, and the handler does not run', async () => {
    const before = Number((await get(gw.port, '/calls')).body);
    const answer = await get(gw.port, '/limited', { headers: { 'x-forwarded-for': '203.0.113.1', origin: ORIGIN } });
    assert.equal(answer.status, 429);
    const retry = Number(answer.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 10, `Retry-After ${answer.headers['retry-after']}`);
    assert.equal(answer.headers['ratelimit-policy'], '"default";q=3;w=10');
    assert.equal(answer.headers.ratelimit, `"default";r=0;t=${retry}`);
    assert.equal(answer.headers['access-control-allow-origin'], ORIGIN);
    assert.ok(answer.headers['x-request-id']);
    const body = JSON.parse(answer.body);
    assert.equal(body.code, 'TooManyRequests');
    assert.match(body.message, /3 per 10 seconds/);
    assert.equal(Number((await get(gw.port, '/calls')).body), before, 'the handler ran for a refused request');
  });

  test('the client address comes from server.trustProxy: another forwarded client has its own budget', async () => {
    assert.equal((await get(gw.port, '/limited', { headers: { 'x-forwarded-for': '203.0.113.2' } })).status, 200);
    assert.equal((await get(gw.port, '/forwarded', { headers: { 'x-forwarded-for': '203.0.113.3' } })).status, 200);
    assert.equal((await get(gw.port, '/forwarded', { headers: { 'x-forwarded-for': '203.0.113.3' } })).status, 429);
    assert.equal((await get(gw.port, '/forwarded', { headers: { 'x-forwarded-for': '203.0.113.4' } })).status, 200);
  });

  test('rateLimit: false turns the default off for a route', async () => {
    for (let i = 0; i < 6; i++) {
      const answer = await get(gw.port, '/calls');
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['ratelimit-policy'], undefined);
    }
  });

  test('key header:X-Api-Key: one budget per key, the route keeps the default window', async () => {
    const call = (key: string) => get(gw.port, '/keyed', { headers: { 'x-api-key': key } });
    assert.equal((await call('k1')).status, 200);
    const second = await call('k1');
    assert.equal(second.status, 200);
    assert.equal(second.headers['ratelimit-policy'], '"apikey";q=2;w=10');
    assert.equal((await call('k1')).status, 429);
    assert.equal((await call('k2')).status, 200);
  });

  test('key param:id: one budget per path parameter', async () => {
    assert.equal((await get(gw.port, '/items/a')).status, 200);
    assert.equal((await get(gw.port, '/items/a')).status, 200);
    const third = await get(gw.port, '/items/a');
    assert.equal(third.status, 429);
    assert.equal(third.headers['ratelimit-policy'], '"default";q=2;w=60');
    assert.equal((await get(gw.port, '/items/b')).status, 200);
  });

  test('the top-level rateLimit covers the function API, with CORS on the 429', async () => {
    const call = () =>
      get(gw.port, '/api/query', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.9', origin: ORIGIN },
        body: JSON.stringify({ path: 'h:hello', args: {} }),
      });
    for (let i = 0; i < 3; i++) {
      const answer = await call();
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.headers['ratelimit-policy'], '"default";q=3;w=10');
    }
    const refused = await call();
    assert.equal(refused.status, 429);
    assert.equal(JSON.parse(refused.body).code, 'TooManyRequests');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal(refused.headers['access-control-allow-origin'], ORIGIN);
  });
});

describe('rate limits across --workers', () => {
  test('two workers share one memory budget', async () => {
    const dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'routes.yaml': routesYaml('  - { path: /limited, method: GET, handler: h:hit }', 'rateLimit: { requests: 10, per: 1m }\napi: false'),
    });
    const gw = await startGateway(dir, { args: ['--workers', '2'] });
    try {
      const statuses: number[] = [];
      const pids = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const answer = await get(gw.port, '/limited', { fresh: true });
        statuses.push(answer.status);
        if (answer.status === 200) pids.add(String(answer.headers['x-request-id']).slice(0, 8));
      }
      assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((s) => s === 429).length, 20);
      // Request ids begin with a per-process prefix: both workers answered.
      assert.equal(pids.size, 2, 'the requests did not reach both workers');
    } finally {
      await gw.stop();
      await removeProject(dir);
    }
  });
});

describe('rate limits keyed by identity', () => {
  test('each caller with a valid token has its own budget; callers without one are counted by address; the rate limit runs before auth', async () => {
    const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    const token = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://issuer.test').setAudience('app').setSubject(sub).setIssuedAt().setExpirationTime('1h').sign(privateKey);
    const dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'keys/jwks.json': JSON.stringify(jwks),
      'routes.yaml': routesYaml(
        `  - { path: /mine, method: GET, handler: h:hit, rateLimit: { requests: 2, per: 1m, key: identity } }
  - { path: /members, method: GET, handler: h:hit, auth: required, rateLimit: { requests: 1, per: 1m, key: identity } }`,
        'api: false\nauth:\n  providers:\n    - { issuer: "https://issuer.test", audience: app, jwks: ./keys/jwks.json, algorithms: [ES256] }',
      ),
    });
    const gw = await startGateway(dir);
    try {
      const [alice, bob] = await Promise.all([token('alice'), token('bob')]);
      const as = (jwt: string | null, path = '/mine') => get(gw.port, path, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
      assert.equal((await as(alice)).status, 200);
      assert.equal((await as(alice)).status, 200);
      assert.equal((await as(alice)).status, 429);
      // Another identity from the same address has its own budget.
      assert.equal((await as(bob)).status, 200);
      // Anonymous callers share the address's budget, apart from the identities'.
      assert.equal((await as(null)).status, 200);
      assert.equal((await as(null)).status, 200);
      assert.equal((await as(null)).status, 429);
      // The rate limit comes before auth: an anonymous caller is counted, then refused 401; over the limit it is 429.
      assert.equal((await as(null, '/members')).status, 401);
      assert.equal((await as(null, '/members')).status, 429);
      assert.equal((await as(alice, '/members')).status, 200);
    } finally {
      await gw.stop();
      await removeProject(dir);
    }
  });
});
