import assert from 'node:assert/strict';
import { freePort } from '../helpers/http.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// Caller identity as docs/function-api.md and docs/convex-compatibility.md describe it, with
// tokens minted here (jose) and keys served by a JWKS endpoint of this test
// (and from a JWKS file): the identity a valid token gives, every kind of bad
// token refused before a function runs on the function API, Convex's
// behaviour in HTTP actions (the request runs, getUserIdentity() throws),
// `auth: required` routes (401 + WWW-Authenticate before the handler), key
// rotation, a flood of unknown kids, and the example app's demo auth flow.

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'portico-test';
const FILE_ISSUER = 'https://file-issuer.test';
const FILE_AUDIENCE = 'file-audience';
const BROKEN_ISSUER = 'https://broken.test';
const UNREACHABLE_ISSUER = 'https://unreachable.test';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface MintOptions {
  key: SigningKey;
  claims?: JWTPayload;
  issuer?: string | null;
  audience?: string | string[] | null;
  subject?: string | null;
  /** Seconds from now; null leaves exp out. */
  expiresIn?: number | null;
  kid?: string;
}

async function mint({ key, claims = {}, issuer = ISSUER, audience = AUDIENCE, subject = 'user-1', expiresIn = 3600, kid = key.kid }: MintOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid, typ: 'JWT' }).setIssuedAt(now);
  if (issuer !== null) jwt.setIssuer(issuer);
  if (audience !== null) jwt.setAudience(audience);
  if (subject !== null) jwt.setSubject(subject);
  if (expiresIn !== null) jwt.setExpirationTime(now + expiresIn);
  return jwt.sign(key.privateKey);
}

/**
 * A JWKS endpoint whose keys the test changes, counting the requests it
 * gets; /broken answers 500, as a provider having a bad day would.
 */
class JwksServer {
  keys: JWK[] = [];
  requests: number[] = [];
  private server = http.createServer((req, res) => {
    if (req.url !== '/jwks.json') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('down for maintenance');
      return;
    }
    this.requests.push(Date.now());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: this.keys }));
  });
  url = '';
  brokenUrl = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    this.url = `${base}/jwks.json`;
    this.brokenUrl = `${base}/broken`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const whoModule = `
import { httpAction, mutation, query, v } from 'portico';

export const identity = query({ args: {}, handler: (ctx) => ctx.auth.getUserIdentity() });

// Writes a row first, so a test can tell whether it ran.
export const record = mutation({
  args: { marker: v.string() },
  handler: async (ctx, { marker }) => {
    await ctx.db.insert('calls', { marker });
    return ctx.auth.getUserIdentity();
  },
});

// Only writes the row: what an HTTP action uses to say that it ran.
export const mark = mutation({ args: { marker: v.string() }, handler: (ctx, { marker }) => ctx.db.insert('calls', { marker }) });

export const count = query({
  args: { marker: v.string() },
  handler: async (ctx, { marker }) => (await ctx.db.query('calls').collect()).filter((call) => call.marker === marker).length,
});

// Records that it ran, then reports the identity or what getUserIdentity() threw.
export const http = httpAction(async (ctx, request) => {
  const marker = new URL(request.url).searchParams.get('marker');
  if (marker) await ctx.runMutation('who:mark' as any, { marker });
  try {
    const identity = await ctx.auth.getUserIdentity();
    // A careless handler that edits the identity it was given.
    if (identity) (identity as any).subject = 'tampered';
    return Response.json({ identity: identity && { ...identity, subject: undefined } });
  } catch (error) {
    return Response.json({ threw: (error as Error).message });
  }
});
`;

const routes = `
  - { path: /who, method: [GET, POST], handler: "who:http" }
  - { path: /required, method: GET, handler: "who:http", auth: required }
`;

const dirs: string[] = [];
const gateways: RunningGateway[] = [];
after(async () => {
  for (const gateway of gateways) if (gateway.child.exitCode === null) await gateway.stop('SIGKILL');
  for (const dir of dirs) await removeProject(dir);
});

describe('auth with a JWKS endpoint and a JWKS file', () => {
  const jwks = new JwksServer();
  let rsa: SigningKey;
  let ec: SigningKey;
  let fileKey: SigningKey;
  let stranger: SigningKey;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    rsa = await signingKey('RS256', 'rsa-1');
    ec = await signingKey('ES256', 'ec-1');
    fileKey = await signingKey('ES256', 'file-1');
    // Same kid as rsa, another key: its tokens must fail the signature check.
    stranger = await signingKey('RS256', 'rsa-1');
    await jwks.start();
    // An HMAC key in the set must not make HS256 tokens acceptable.
    jwks.keys = [rsa.jwk, ec.jwk, { kty: 'oct', kid: 'hmac-1', k: randomBytes(32).toString('base64url'), alg: 'HS256' }];
    dir = await makeProject({
      'routes.yaml': routesYaml(
        routes,
        `auth:
  providers:
    - { issuer: "${ISSUER}", audience: ${AUDIENCE}, jwks: "${jwks.url}", algorithms: [RS256, ES256] }
    - { issuer: "${FILE_ISSUER}", audience: [other, ${FILE_AUDIENCE}], jwks: ./keys/jwks.json, algorithms: [ES256] }
    - { issuer: "${BROKEN_ISSUER}", jwks: "${jwks.brokenUrl}" }
    - { issuer: "${UNREACHABLE_ISSUER}", jwks: "http://127.0.0.1:${await closedPort()}/jwks.json" }`,
      ),
      'keys/jwks.json': JSON.stringify({ keys: [fileKey.jwk] }),
      'functions/who.ts': whoModule,
    });
    dirs.push(dir);
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
    gateways.push(gateway);
  });
  after(() => jwks.stop());

  const api = async (kind: 'query' | 'mutation', path: string, args: Record<string, unknown>, token?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${gateway.url}/api/${kind}`, { method: 'POST', headers, body: JSON.stringify({ path, args, format: 'json' }) });
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  const ranTimes = async (marker: string) => {
    const { body } = await api('query', 'who:count', { marker });
    assert.equal(body.status, 'success', JSON.stringify(body));
    return body.value as number;
  };

  test('a valid RS256 token gives the Convex identity: tokenIdentifier, subject, issuer, camelCase standard claims, custom claims, nested ones flattened', async () => {
    const token = await mint({
      key: rsa,
      subject: 'user-42',
      claims: {
        name: 'Ada Lovelace',
        given_name: 'Ada',
        family_name: 'Lovelace',
        email: 'ada@example.com',
        email_verified: true,
        picture: 'https://example.com/ada.png',
        preferred_username: 'ada',
        locale: 'en-GB',
        updated_at: 1_700_000_000,
        role: 'admin',
        groups: ['a', 'b'],
        properties: { id: '123', plan: { tier: 'gold' } },
        jti: 'token-id',
        nbf: Math.floor(Date.now() / 1000) - 60,
      },
    });
    const { status, body } = await api('query', 'who:identity', {}, token);
    assert.equal(status, 200);
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.deepEqual(body.value, {
      tokenIdentifier: `${ISSUER}|user-42`,
      subject: 'user-42',
      issuer: ISSUER,
      name: 'Ada Lovelace',
      givenName: 'Ada',
      familyName: 'Lovelace',
      email: 'ada@example.com',
      emailVerified: true,
      pictureUrl: 'https://example.com/ada.png',
      preferredUsername: 'ada',
      language: 'en-GB',
      updatedAt: '2023-11-14T22:13:20.000Z',
      role: 'admin',
      groups: ['a', 'b'],
      'properties.id': '123',
      'properties.plan.tier': 'gold',
    });
  });

  test('a valid ES256 token is accepted, and an audience list containing ours is enough', async () => {
    const token = await mint({ key: ec, subject: 'ec-user', audience: ['someone-else', AUDIENCE] });
    const { body } = await api('query', 'who:identity', {}, token);
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.deepEqual(body.value, { tokenIdentifier: `${ISSUER}|ec-user`, subject: 'ec-user', issuer: ISSUER });
  });

  test('a token of the JWKS-file provider is accepted', async () => {
    const token = await mint({ key: fileKey, issuer: FILE_ISSUER, audience: FILE_AUDIENCE, subject: 'from-file' });
    const { body } = await api('query', 'who:identity', {}, token);
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.equal(body.value.tokenIdentifier, `${FILE_ISSUER}|from-file`);
  });

  test("an issuer with a trailing slash matches the provider's (Convex ignores it)", async () => {
    const token = await mint({ key: rsa, issuer: `${ISSUER}/`, subject: 'slash' });
    const { body } = await api('query', 'who:identity', {}, token);
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.equal(body.value.subject, 'slash');
  });

  test('without an Authorization header the identity is null, and the function runs', async () => {
    const marker = randomUUID();
    const { status, body } = await api('mutation', 'who:record', { marker });
    assert.equal(status, 200);
    assert.deepEqual(body, { status: 'success', value: null });
    assert.equal(await ranTimes(marker), 1);
  });

  test('a token expired less than 5 s ago is still accepted (leeway)', async () => {
    const token = await mint({ key: rsa, expiresIn: -2 });
    const { body } = await api('query', 'who:identity', {}, token);
    assert.equal(body.status, 'success', JSON.stringify(body));
    assert.equal(body.value.subject, 'user-1');
  });

  // Each bad token: on the function API a 401 with its code, and the mutation (which writes a row) never runs.
  const refused: { name: string; code: string; token: () => Promise<string> }[] = [
    { name: 'expired beyond the 5 s leeway', code: 'Unauthenticated', token: () => mint({ key: rsa, expiresIn: -30 }) },
    { name: 'not valid before a time in the future', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }) },
    { name: 'a wrong audience', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, audience: 'another-app' }) },
    { name: 'no audience', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, audience: null }) },
    { name: 'an issuer no provider has', code: 'NoAuthProvider', token: () => mint({ key: rsa, issuer: 'https://evil.test' }) },
    { name: 'no issuer', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, issuer: null }) },
    { name: 'no subject', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, subject: null }) },
    { name: 'no expiry', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, expiresIn: null }) },
    {
      name: 'alg "none"',
      code: 'InvalidAuthHeader',
      token: async () => new UnsecuredJWT({}).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('admin').setExpirationTime('1h').encode(),
    },
    {
      name: 'alg "none" with a kid and a signature part',
      code: 'InvalidAuthHeader',
      token: async () => {
        const [, payload] = (await mint({ key: rsa })).split('.');
        const header = Buffer.from(JSON.stringify({ alg: 'none', kid: 'rsa-1', typ: 'JWT' })).toString('base64url');
        return `${header}.${payload}.c2lnbmF0dXJl`;
      },
    },
    {
      name: 'HS256 signed with the provider public key as the HMAC secret',
      code: 'InvalidAuthHeader',
      token: async () => {
        const pem = await exportSPKI(rsa.publicKey);
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1', typ: 'JWT' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('admin').setExpirationTime(now + 3600).sign(new TextEncoder().encode(pem));
      },
    },
    {
      name: 'HS256 signed with an HMAC key the JWKS publishes',
      code: 'InvalidAuthHeader',
      token: async () => {
        const oct = jwks.keys.find((key) => key.kty === 'oct')!;
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'hmac-1', typ: 'JWT' }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('admin').setExpirationTime(now + 3600).sign(Buffer.from(oct.k!, 'base64url'));
      },
    },
    { name: 'an algorithm its provider does not accept (RS256 for an ES256-only provider)', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, issuer: FILE_ISSUER, audience: FILE_AUDIENCE }) },
    { name: 'an unknown kid', code: 'InvalidAuthHeader', token: () => mint({ key: rsa, kid: 'no-such-kid' }) },
    { name: 'a bad signature (another key under a known kid)', code: 'InvalidAuthHeader', token: () => mint({ key: stranger }) },
    {
      name: 'a payload changed after signing',
      code: 'InvalidAuthHeader',
      token: async () => {
        const [header, , signature] = (await mint({ key: rsa })).split('.');
        const payload = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
        return `${header}.${payload}.${signature}`;
      },
    },
    { name: "a provider whose JWKS endpoint answers 500", code: 'Unauthenticated', token: () => mint({ key: rsa, issuer: BROKEN_ISSUER }) },
    { name: "a provider whose JWKS endpoint is unreachable", code: 'Unauthenticated', token: () => mint({ key: rsa, issuer: UNREACHABLE_ISSUER }) },
    { name: 'a token that is not a JWT', code: 'InvalidAuthHeader', token: async () => 'not-a-jwt' },
    { name: 'a JWT with a header that is not JSON', code: 'InvalidAuthHeader', token: async () => `${Buffer.from('{nope').toString('base64url')}.e30.sig` },
  ];

  for (const { name, code, token: make } of refused) {
    test(`function API: a token with ${name} is 401 ${code}, and the function does not run`, async () => {
      const token = await make();
      const marker = randomUUID();
      const { status, headers, body } = await api('mutation', 'who:record', { marker }, token);
      assert.equal(status, 401, JSON.stringify(body));
      assert.equal(body.code, code, JSON.stringify(body));
      assert.equal(typeof body.message, 'string');
      assert.ok(headers.get('x-request-id'));
      assert.equal(await ranTimes(marker), 0, 'the mutation ran');
    });
  }

  test("function API: a provider whose keys cannot be fetched is reported as such, not as a bad token", async () => {
    for (const [issuer, reason] of [[BROKEN_ISSUER, /Expected 200 OK/], [UNREACHABLE_ISSUER, /ECONNREFUSED/]] as const) {
      const { status, body } = await api('query', 'who:identity', {}, await mint({ key: rsa, issuer }));
      assert.equal(status, 401);
      assert.equal(body.code, 'Unauthenticated');
      assert.match(body.message, /^Could not fetch the provider's keys: /);
      assert.match(body.message, reason);
    }
  });

  test('function API: an Authorization header that is not Bearer or Convex is refused before the function runs', async () => {
    const marker = randomUUID();
    const response = await fetch(`${gateway.url}/api/mutation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ path: 'who:record', args: { marker }, format: 'json' }),
    });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).code, 'InvalidAdminKey');
    assert.equal(await ranTimes(marker), 0);
  });

  test('function API: an Authorization header too short to hold anything is 400 InvalidHeaderFailure', async () => {
    const marker = randomUUID();
    const response = await fetch(`${gateway.url}/api/mutation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bear' },
      body: JSON.stringify({ path: 'who:record', args: { marker }, format: 'json' }),
    });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).code, 'InvalidHeaderFailure');
    assert.equal(await ranTimes(marker), 0);
  });

  describe('in HTTP actions', () => {
    const call = async (route: string, token: string | undefined, marker: string) => {
      const headers: Record<string, string> = {};
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const response = await fetch(`${gateway.url}${route}?marker=${marker}`, { headers });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: JSON.parse(text) };
    };

    test('a valid token: getUserIdentity() gives the identity, on an optional and on a required route', async () => {
      const token = await mint({ key: ec, subject: 'http-user', claims: { email: 'h@example.com' } });
      for (const route of ['/who', '/required']) {
        const marker = randomUUID();
        const { status, body } = await call(route, token, marker);
        assert.equal(status, 200, route);
        assert.deepEqual(body.identity, { tokenIdentifier: `${ISSUER}|http-user`, issuer: ISSUER, email: 'h@example.com' }, route);
        assert.equal(await ranTimes(marker), 1, route);
      }
    });

    test('an identity a handler edits is not what the next request with the same token sees', async () => {
      const token = await mint({ key: rsa, subject: 'original' });
      await call('/who', token, randomUUID());
      const { body } = await api('query', 'who:identity', {}, token);
      assert.equal(body.value.subject, 'original');
      const response = await fetch(`${gateway.url}/who`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      assert.equal((await response.json()).identity.tokenIdentifier, `${ISSUER}|original`);
    });

    test('no header: the optional route runs with a null identity; the required route is 401 with a Bearer challenge and does not run', async () => {
      const marker = randomUUID();
      const optional = await call('/who', undefined, marker);
      assert.equal(optional.status, 200);
      assert.deepEqual(optional.body, { identity: null });
      assert.equal(await ranTimes(marker), 1);

      const requiredMarker = randomUUID();
      const required = await call('/required', undefined, requiredMarker);
      assert.equal(required.status, 401);
      assert.equal(required.body.code, 'Unauthenticated');
      assert.equal(required.headers.get('www-authenticate'), 'Bearer realm="portico"');
      assert.equal(await ranTimes(requiredMarker), 0, 'the handler of an auth: required route ran without a token');
    });

    for (const { name, code, token: make } of refused) {
      test(`a token with ${name}: the request runs and getUserIdentity() throws; on an auth: required route, 401 ${code} before the handler`, async () => {
        const token = await make();
        const marker = randomUUID();
        const optional = await call('/who', token, marker);
        assert.equal(optional.status, 200);
        assert.equal(typeof optional.body.threw, 'string', JSON.stringify(optional.body));
        assert.ok(optional.body.threw.length > 0);
        assert.equal(await ranTimes(marker), 1, 'the HTTP action should run');

        const requiredMarker = randomUUID();
        const required = await call('/required', token, requiredMarker);
        assert.equal(required.status, 401);
        assert.equal(required.body.code, code, 'the same code the function API gives');
        assert.match(required.headers.get('www-authenticate') ?? '', /^Bearer realm="portico", error="invalid_token", error_description="[^"]*"$/);
        assert.equal(await ranTimes(requiredMarker), 0, 'the handler of an auth: required route ran with a bad token');
      });
    }
  });

  describe('keys that change', () => {
    test('the JWKS endpoint rotates to a new key: a token with the new kid is accepted (the set is fetched again), the removed key is refused, and a flood of unknown kids does not reach the endpoint', { timeout: 120_000 }, async () => {
      // jose fetches again for an unknown kid only 30 s after its last fetch.
      assert.ok(jwks.requests.length >= 1, 'the endpoint was used');
      const wait = jwks.requests.at(-1)! + 31_000 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

      const rotated = await signingKey('RS256', 'rsa-2');
      jwks.keys = [rotated.jwk, ec.jwk];
      const before = jwks.requests.length;
      const { body } = await api('query', 'who:identity', {}, await mint({ key: rotated, subject: 'after-rotation' }));
      assert.equal(body.status, 'success', JSON.stringify(body));
      assert.equal(body.value.subject, 'after-rotation');
      assert.equal(jwks.requests.length, before + 1, 'the new kid made the gateway fetch the set once');

      const old = await api('query', 'who:identity', {}, await mint({ key: rsa, subject: 'old-key' }));
      assert.equal(old.status, 401);
      assert.equal(old.body.code, 'InvalidAuthHeader');

      // One after the other, so that only a cooldown (not a shared fetch in flight) can keep the count down.
      const flood = jwks.requests.length;
      for (let i = 0; i < 60; i++) {
        const response = await api('query', 'who:identity', {}, await mint({ key: rotated, kid: `random-${randomUUID()}` }));
        assert.equal(response.status, 401);
        assert.equal(response.body.code, 'InvalidAuthHeader');
      }
      // And a burst in parallel.
      const burst = await Promise.all(Array.from({ length: 60 }, async () => (await api('query', 'who:identity', {}, await mint({ key: ec, kid: `burst-${randomUUID()}` }))).status));
      assert.ok(burst.every((status) => status === 401));
      assert.ok(jwks.requests.length - flood <= 1, `${jwks.requests.length - flood} JWKS requests for 120 unknown kids`);
    });

    test('the JWKS file gets a new key: a token with the new kid is accepted without a restart', { timeout: 60_000 }, async () => {
      const next = await signingKey('ES256', 'file-2');
      await writeFile(path.join(dir, 'keys', 'jwks.json'), JSON.stringify({ keys: [fileKey.jwk, next.jwk] }));
      // Whatever re-reading has to wait for, a few seconds are enough.
      const token = await mint({ key: next, issuer: FILE_ISSUER, audience: FILE_AUDIENCE, subject: 'file-rotated' });
      const deadline = Date.now() + 10_000;
      let body: any;
      do {
        ({ body } = await api('query', 'who:identity', {}, token));
        if (body.status === 'success') break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      } while (Date.now() < deadline);
      assert.equal(body.status, 'success', JSON.stringify(body));
      assert.equal(body.value.subject, 'file-rotated');
    });
  });
});

describe("the example app's demo auth flow", () => {
  test('POST /demo-auth/token, then /users/me: 401 without the token, the profile with it', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const files: Record<string, string> = { 'routes.yaml': await readFile(path.join(ROOT, 'routes.yaml'), 'utf8') };
    for (const name of await readdir(path.join(ROOT, 'functions'))) files[`functions/${name}`] = await readFile(path.join(ROOT, 'functions', name), 'utf8');
    const dir = await makeProject(files);
    dirs.push(dir);
    const gateway = await startGateway(dir, {
      port,
      timeoutMs: 60_000,
      // No URL in the environment: the example's JWKS URL follows --port.
      env: { DATABASE: './.data/portico.sqlite' },
    });
    gateways.push(gateway);

    const anonymous = await fetch(`${gateway.url}/users/me`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="portico"');
    assert.equal((await anonymous.json()).code, 'Unauthenticated');

    const minted = await fetch(`${gateway.url}/demo-auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) });
    assert.equal(minted.status, 200);
    const { token, issuer } = await minted.json();
    assert.equal(issuer, 'portico-demo-auth');
    const auth = { authorization: `Bearer ${token}` };

    const me = await fetch(`${gateway.url}/users/me`, { headers: auth });
    assert.equal(me.status, 200);
    const first = await me.json();
    assert.deepEqual(first, { identity: { tokenIdentifier: `${issuer}|ada`, subject: 'ada', issuer, name: 'Ada' }, profile: null });

    const patched = await fetch(`${gateway.url}/users/me`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Ada L', bio: 'maths' }) });
    assert.equal(patched.status, 200);
    const { profile } = await patched.json();
    assert.equal(profile.name, 'Ada L');
    assert.equal(profile.bio, 'maths');
    assert.equal(profile.tokenIdentifier, `${issuer}|ada`);

    const other = await fetch(`${gateway.url}/users/someone-else`, { headers: auth });
    assert.equal(other.status, 403);

    const forged = await fetch(`${gateway.url}/users/me`, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } });
    assert.equal(forged.status, 401);
    assert.match(forged.headers.get('www-authenticate') ?? '', /^Bearer realm="portico", error="invalid_token"/);
    await gateway.stop();
  });
});

/** A port nothing listens on. */
const closedPort = freePort;

