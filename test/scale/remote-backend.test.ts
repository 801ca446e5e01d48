import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConvexHttpClient } from 'convex/browser';
import { makeFunctionReference } from 'convex/server';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { makeProject, removeProject } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';

// A stateless gateway tier (backend.kind: remote) in front of a function
// tier (a second Portico holding the data and the function modules). The
// gateway tier's HTTP actions run queries, mutations and actions there, its
// own /api forwards there, and its files live there; values, errors,
// identities and access rules must all come through as if local.

const ADMIN_KEY = 'function-tier-admin-key-0123456789';
const GATEWAY_ADMIN_KEY = 'gateway-tier-admin-key-9876543210';
const ISSUER = 'https://issuer.portico.test';
const AUDIENCE = 'portico-tiers';

// Only on the function tier: the gateway tier cannot run these itself.
const functionTierModules = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({ notes: defineTable({ text: v.string() }) });
`,
  'functions/data.ts': `
import { action, ConvexError, internal, internalMutation, internalQuery, mutation, query, v } from 'portico';

export const echo = query({
  args: { big: v.int64(), bytes: v.bytes(), n: v.number() },
  handler: async (_ctx, { big, bytes, n }) => ({ big: big * 2n, bytes, length: bytes.byteLength, n, nested: [1n, 'x', null] }),
});
export const fail = mutation({
  args: { code: v.string() },
  handler: async (_ctx, { code }) => {
    throw new ConvexError({ code, count: 3n, tier: 'functions' });
  },
});
export const crash = action({ args: {}, handler: async () => { throw new Error('the function tier crashed on purpose'); } });
export const put = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
export const texts = query({ args: {}, handler: async (ctx) => (await ctx.db.query('notes').collect()).map((note) => note.text) });
export const putTwice = action({
  args: { text: v.string() },
  handler: async (ctx, { text }) => {
    await ctx.runMutation(internal.data.putInternal, { text: text + ' (1)' });
    await ctx.runMutation(internal.data.putInternal, { text: text + ' (2)' });
    return ctx.runQuery(internal.data.secretCount, {});
  },
});
export const putInternal = internalMutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
export const secretCount = internalQuery({ args: {}, handler: async (ctx) => (await ctx.db.query('notes').collect()).length });
export const secret = internalQuery({ args: {}, handler: async () => 'the internal answer' });
export const whoami = query({ args: {}, handler: async (ctx) => ctx.auth.getUserIdentity() });
export const fileSize = query({ args: { id: v.id('_storage') }, handler: async (ctx, { id }) => (await ctx.storage.getMetadata(id))?.size ?? null });
`,
};

// Only on the gateway tier: HTTP actions that call the function tier.
const gatewayTierModules = {
  'functions/edge.ts': `
import { ConvexError, httpAction, internal } from 'portico';

const json = (value: unknown, status = 200) => Response.json(value, { status });

export const values = httpAction(async (ctx) => {
  const bytes = new Uint8Array([0, 1, 2, 254, 255]).buffer;
  const result = await ctx.runQuery('data:echo', { big: 2n ** 60n + 1n, bytes, n: 1.5 });
  return json({
    bigType: typeof result.big,
    big: String(result.big),
    bytesIsArrayBuffer: result.bytes instanceof ArrayBuffer,
    bytes: [...new Uint8Array(result.bytes)],
    length: result.length,
    n: result.n,
    nestedTypes: result.nested.map((item: unknown) => (item === null ? 'null' : typeof item)),
  });
});

export const error = httpAction(async (ctx) => {
  try {
    await ctx.runMutation('data:fail', { code: 'Nope' });
    return json({ thrown: false });
  } catch (e: any) {
    return json({ thrown: true, isConvexError: e instanceof ConvexError, code: e.data?.code, count: String(e.data?.count), countType: typeof e.data?.count, tier: e.data?.tier });
  }
});

export const crash = httpAction(async (ctx) => {
  try {
    await ctx.runAction('data:crash', {});
    return json({ thrown: false });
  } catch (e: any) {
    return json({ thrown: true, isConvexError: e instanceof ConvexError, message: String(e.message) });
  }
});

export const write = httpAction(async (ctx, request) => {
  const text = await request.text();
  const id = await ctx.runMutation('data:put', { text });
  const count = await ctx.runAction('data:putTwice', { text });
  return json({ id, count, texts: await ctx.runQuery('data:texts', {}) });
});

export const secret = httpAction(async (ctx) => json({ answer: await ctx.runQuery(internal.data.secret, {}) }));

export const whoami = httpAction(async (ctx) => {
  try {
    return json({ identity: await ctx.runQuery('data:whoami', {}) });
  } catch (e: any) {
    return json({ error: String(e.message) });
  }
});

export const store = httpAction(async (ctx, request) => {
  const blob = await request.blob();
  const id = await ctx.storage.store(blob);
  const back = await ctx.storage.get(id);
  return json({
    id,
    url: await ctx.storage.getUrl(id),
    metadata: await ctx.storage.getMetadata(id),
    sizeSeenByFunctionTier: await ctx.runQuery('data:fileSize', { id }),
    roundTrip: back ? Buffer.from(await back.arrayBuffer()).toString('base64') : null,
  });
});

export const uploadUrl = httpAction(async (ctx) => json({ url: await ctx.storage.generateUploadUrl() }));
`,
};

const gatewayRoutes = `
routes:
  - { path: /values, method: GET, handler: "edge:values" }
  - { path: /error, method: GET, handler: "edge:error" }
  - { path: /crash, method: GET, handler: "edge:crash" }
  - { path: /write, method: POST, handler: "edge:write" }
  - { path: /secret, method: GET, handler: "edge:secret" }
  - { path: /whoami, method: GET, handler: "edge:whoami" }
  - { path: /store, method: POST, handler: "edge:store" }
  - { path: /uploadUrl, method: POST, handler: "edge:uploadUrl" }
`;

describe('a gateway tier over a remote function tier', () => {
  const dirs: string[] = [];
  let functionTier: RunningGateway;
  let gatewayTier: RunningGateway;
  let gatewayDir: string;
  let sign: (subject: string, claims?: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    sign = (subject, claims = {}) =>
      new SignJWT({ name: 'Ada Lovelace', ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);

    const functionsDir = await makeProject({
      'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
api: { adminKey: "${ADMIN_KEY}" }
routes: []
`,
      ...functionTierModules,
    });
    dirs.push(functionsDir);
    functionTier = await startGateway(functionsDir, { timeoutMs: 60_000 });

    gatewayDir = await makeProject({
      'routes.yaml': `version: 1
functions: ./functions
backend: { kind: remote, url: "${functionTier.url}", adminKey: "${ADMIN_KEY}" }
api: { adminKey: "${GATEWAY_ADMIN_KEY}" }
limits: { body: 1mb }
auth:
  providers:
    - { issuer: "${ISSUER}", audience: ${AUDIENCE}, jwks: ./jwks.json, algorithms: [ES256] }
${gatewayRoutes}`,
      'jwks.json': JSON.stringify(jwks),
      ...gatewayTierModules,
    });
    dirs.push(gatewayDir);
    gatewayTier = await startGateway(gatewayDir, { timeoutMs: 60_000 });
  });

  after(async () => {
    const exits = await Promise.all([gatewayTier?.stop(), functionTier?.stop()]);
    for (const dir of dirs) await removeProject(dir);
    for (const exit of exits) if (exit) assert.deepEqual(exit, { code: 0, signal: null });
  });

  const getJson = async (path: string, init?: RequestInit) => {
    const response = await fetch(gatewayTier.url + path, init);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text);
  };

  test('runQuery from an HTTP action: bigint and bytes arrive intact both ways', async () => {
    assert.deepEqual(await getJson('/values'), {
      bigType: 'bigint',
      big: String((2n ** 60n + 1n) * 2n),
      bytesIsArrayBuffer: true,
      bytes: [0, 1, 2, 254, 255],
      length: 5,
      n: 1.5,
      nestedTypes: ['bigint', 'string', 'null'],
    });
  });

  test('a ConvexError thrown on the function tier arrives with its data; a plain error with its message', async () => {
    assert.deepEqual(await getJson('/error'), { thrown: true, isConvexError: true, code: 'Nope', count: '3', countType: 'bigint', tier: 'functions' });
    const crash = await getJson('/crash');
    assert.equal(crash.thrown, true);
    assert.equal(crash.isConvexError, false);
    assert.match(crash.message, /the function tier crashed on purpose/);
  });

  test('runMutation and runAction write on the function tier', async () => {
    const result = await getJson('/write', { method: 'POST', body: 'hello tiers' });
    assert.equal(typeof result.id, 'string');
    assert.equal(result.count, 3);
    assert.deepEqual(result.texts, ['hello tiers', 'hello tiers (1)', 'hello tiers (2)']);
    // The data is on the function tier: its own API reads it.
    const direct = await fetch(`${functionTier.url}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: 'data:texts', args: {} }) });
    assert.deepEqual((await direct.json()).value, ['hello tiers', 'hello tiers (1)', 'hello tiers (2)']);
  });

  test('an HTTP action may run internal functions on the function tier', async () => {
    assert.deepEqual(await getJson('/secret'), { answer: 'the internal answer' });
  });

  test('portico run against the gateway tier runs the function on the function tier', async () => {
    const config = path.join(gatewayDir, 'routes.yaml');
    const secret = await runCli(['run', 'data:secret', '{}', '-c', config], { cwd: gatewayDir });
    assert.equal(secret.code, 0, secret.stderr);
    assert.equal(JSON.parse(secret.stdout), 'the internal answer');
    const failing = await runCli(['run', 'data:fail', '{"code":"FromCli"}', '-c', config], { cwd: gatewayDir });
    assert.equal(failing.code, 1);
    assert.match(failing.stderr, /^data: \{"code":"FromCli","count":"3","tier":"functions"\}$/m);
  });

  test("the gateway tier's /api forwards to the function tier (ConvexHttpClient, values and errors with data)", async () => {
    const client = new ConvexHttpClient(gatewayTier.url);
    const result = await client.query(makeFunctionReference<'query'>('data:echo'), { big: 7n, bytes: new Uint8Array([9, 8]).buffer, n: 2 });
    assert.equal(result.big, 14n);
    assert.deepEqual([...new Uint8Array(result.bytes)], [9, 8]);
    await assert.rejects(client.mutation(makeFunctionReference<'mutation'>('data:fail'), { code: 'ViaApi' }), (error: any) => {
      assert.equal(error.constructor.name, 'ConvexError');
      assert.deepEqual(error.data, { code: 'ViaApi', count: 3n, tier: 'functions' });
      return true;
    });
    await client.mutation(makeFunctionReference<'mutation'>('data:put'), { text: 'from the api' });
    assert.ok((await client.query(makeFunctionReference<'query'>('data:texts'), {})).includes('from the api'));

    // POST /api/run/<module>/<fn> runs a public function of any kind.
    const run = await fetch(`${gatewayTier.url}/api/run/data/texts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"args":{}}' });
    const ran = await run.json();
    assert.equal(ran.status, 'success', JSON.stringify(ran));
    assert.ok(ran.value.includes('from the api'));
  });

  test("the gateway tier's own admin key opens internal functions, there as on the function tier", async () => {
    const headers = { 'content-type': 'application/json', authorization: `Convex ${GATEWAY_ADMIN_KEY}` };
    for (const [path, body] of [
      ['/api/query', { path: 'data:secret', args: {} }],
      ['/api/function', { path: 'data:secret', args: {} }],
      ['/api/run/data/secret', { args: {} }],
    ] as const) {
      const response = await fetch(gatewayTier.url + path, { method: 'POST', headers, body: JSON.stringify(body) });
      assert.deepEqual(await response.json(), { status: 'success', value: 'the internal answer' }, path);
    }
  });

  test('a public caller of the gateway tier cannot run internal functions on the function tier', async () => {
    // The function tier itself runs them for its admin key (so the refusal
    // below is the gateway tier's doing, not a missing function).
    const admin = await fetch(`${functionTier.url}/api/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Convex ${ADMIN_KEY}` },
      body: JSON.stringify({ path: 'data:secret', args: {} }),
    });
    assert.deepEqual(await admin.json(), { status: 'success', value: 'the internal answer' });

    for (const [path, body] of [
      ['/api/query', { path: 'data:secret', args: {} }],
      ['/api/run/data/secret', { args: {} }],
      ['/api/action', { path: 'data:secretCount', args: {} }],
    ] as const) {
      const response = await fetch(gatewayTier.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await response.json();
      assert.equal(answer.status, 'error', `${path}: ${JSON.stringify(answer)}`);
      assert.match(answer.errorMessage, /Could not find public function for 'data:secret(Count)?'/);
    }
    await assert.rejects(new ConvexHttpClient(gatewayTier.url).query(makeFunctionReference<'query'>('data:secret'), {}), /Could not find public function/);

    // The function tier's admin key means nothing to the gateway tier.
    const borrowed = await fetch(`${gatewayTier.url}/api/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Convex ${ADMIN_KEY}` },
      body: JSON.stringify({ path: 'data:secret', args: {} }),
    });
    assert.notEqual(borrowed.status, 200);
    assert.doesNotMatch(await borrowed.text(), /the internal answer/);
    const adminEndpoint = await fetch(`${gatewayTier.url}/api/function`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Convex ${ADMIN_KEY}` },
      body: JSON.stringify({ path: 'data:secret', args: {} }),
    });
    assert.notEqual(adminEndpoint.status, 200);
  });

  test('storage from an HTTP action stores on the function tier; the gateway tier serves it at /api/storage/<id>', async () => {
    const bytes = randomBytes(600_000);
    const stored = await getJson('/store', { method: 'POST', headers: { 'content-type': 'application/x-tiers' }, body: bytes });
    assert.equal(stored.roundTrip, bytes.toString('base64'));
    assert.equal(stored.sizeSeenByFunctionTier, bytes.length);
    assert.equal(stored.metadata.size, bytes.length);
    assert.equal(stored.metadata.contentType, 'application/x-tiers');
    assert.equal(stored.url, `${gatewayTier.url}/api/storage/${stored.id}`);

    for (const base of [gatewayTier.url, functionTier.url]) {
      const download = await fetch(`${base}/api/storage/${stored.id}`);
      assert.equal(download.status, 200, base);
      assert.equal(download.headers.get('content-type'), 'application/x-tiers');
      assert.ok(Buffer.from(await download.arrayBuffer()).equals(bytes), base);
    }
    const range = await fetch(`${gatewayTier.url}/api/storage/${stored.id}`, { headers: { range: 'bytes=10-19' } });
    assert.equal(range.status, 206);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(10, 20)));

    // Not-found and malformed ids are answered as the function tier answers them.
    const malformed = `${stored.id.slice(0, -2)}zz`;
    assert.equal((await fetch(`${gatewayTier.url}/api/storage/${malformed}`)).status, (await fetch(`${functionTier.url}/api/storage/${malformed}`)).status);
    const removed = await fetch(`${functionTier.url}/api/storage/${stored.id}`, { method: 'DELETE', headers: { authorization: `Convex ${ADMIN_KEY}` } });
    assert.equal(removed.status, 200);
    assert.equal((await fetch(`${gatewayTier.url}/api/storage/${stored.id}`)).status, 404);

    // An upload URL from the gateway tier points at the gateway tier and lands on the function tier.
    const { url } = await getJson('/uploadUrl', { method: 'POST' });
    assert.ok(url.startsWith(`${gatewayTier.url}/api/storage/upload?token=`), url);
    const second = randomBytes(50_000);
    const uploaded = await fetch(url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: second });
    assert.equal(uploaded.status, 200, await uploaded.clone().text());
    const { storageId } = await uploaded.json();
    assert.ok(Buffer.from(await (await fetch(`${functionTier.url}/api/storage/${storageId}`)).arrayBuffer()).equals(second));
  });

  test("uploads through the gateway tier are held to the gateway tier's body limit", async () => {
    const { url } = await getJson('/uploadUrl', { method: 'POST' });
    const tooBig = randomBytes(1024 * 1024 + 1);
    const declared = await fetch(url, { method: 'POST', body: tooBig });
    assert.equal(declared.status, 413);
    assert.equal((await declared.json()).code, 'PayloadTooLarge');

    // Chunked: no Content-Length, so the limit is enforced as bytes arrive.
    const { url: second } = await getJson('/uploadUrl', { method: 'POST' });
    const chunks = [tooBig.subarray(0, 600_000), tooBig.subarray(600_000)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const chunked = await fetch(second, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await chunked.json()).code, 'PayloadTooLarge');

    // At the limit exactly is fine.
    const { url: third } = await getJson('/uploadUrl', { method: 'POST' });
    const atLimit = await fetch(third, { method: 'POST', body: tooBig.subarray(1) });
    assert.equal(atLimit.status, 200);
  });

  test("the gateway tier's admin key (and only it) reaches the admin-only storage endpoints", async () => {
    const upload = (authorization?: string) =>
      fetch(`${gatewayTier.url}/api/storage/upload`, { method: 'POST', headers: authorization ? { authorization } : {}, body: 'admin bytes' });
    // Without a token an upload needs the admin key.
    assert.equal((await upload()).status, 401);
    assert.equal((await upload(`Convex ${ADMIN_KEY}`)).status, 401, "the function tier's key is not this tier's");
    const uploaded = await upload(`Convex ${GATEWAY_ADMIN_KEY}`);
    assert.equal(uploaded.status, 200, await uploaded.clone().text());
    const { storageId } = await uploaded.json();
    assert.equal(await (await fetch(`${functionTier.url}/api/storage/${storageId}`)).text(), 'admin bytes');

    const remove = (authorization?: string) =>
      fetch(`${gatewayTier.url}/api/storage/${storageId}`, { method: 'DELETE', headers: authorization ? { authorization } : {} });
    assert.equal((await remove()).status, 401);
    assert.equal((await remove(`Convex ${ADMIN_KEY}`)).status, 401);
    assert.equal((await remove(`Convex ${GATEWAY_ADMIN_KEY}`)).status, 200);
    assert.equal((await fetch(`${functionTier.url}/api/storage/${storageId}`)).status, 404);
  });

  test('the identity verified on the gateway tier is the one the function tier sees', async () => {
    const token = await sign('user-1');
    const { identity } = await getJson('/whoami', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(identity.subject, 'user-1');
    assert.equal(identity.issuer, ISSUER);
    assert.equal(identity.tokenIdentifier, `${ISSUER}|user-1`);
    assert.equal(identity.name, 'Ada Lovelace');

    assert.deepEqual(await getJson('/whoami'), { identity: null });

    // A bad token: the HTTP action still runs; asking for the identity fails on the function tier.
    const bad = await getJson('/whoami', { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } });
    assert.equal(typeof bad.error, 'string', JSON.stringify(bad));

    // Through the gateway tier's /api too.
    const client = new ConvexHttpClient(gatewayTier.url);
    client.setAuth(await sign('user-2', { name: 'Grace' }));
    const seen = await client.query(makeFunctionReference<'query'>('data:whoami'), {});
    assert.equal(seen?.tokenIdentifier, `${ISSUER}|user-2`);
    assert.equal(seen?.name, 'Grace');
  });
});
