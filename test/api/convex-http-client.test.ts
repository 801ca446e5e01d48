import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConvexHttpClient } from 'convex/browser';
import { anyApi, makeFunctionReference } from 'convex/server';
import { ConvexError } from 'convex/values';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { FUNCTIONS } from '../backends/backend-contract.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';

// The function API as the official client sees it: ConvexHttpClient from
// the `convex` package against a real `portico serve`, then the raw HTTP
// cases the client never produces (formats, malformed bodies, /api/run,
// GET queries, CORS).

const ADMIN_KEY = 'client-test-admin-key-0123456789';
const ISSUER = 'https://issuer.portico.test';
const AUDIENCE = 'portico-test';

interface Logged {
  level: 'log' | 'warn' | 'error';
  text: string;
}

function recordingLogger(lines: Logged[]) {
  const record = (level: Logged['level']) => (...args: unknown[]) => lines.push({ level, text: args.filter((a) => a !== 'color:rgb(0, 145, 255)').join(' ') });
  return { log: record('log'), warn: record('warn'), error: record('error'), logVerbose: () => {} };
}

describe('ConvexHttpClient against portico', () => {
  let dir: string;
  let gateway: RunningGateway;
  let token: string;
  let client: ConvexHttpClient;
  const logged: Logged[] = [];

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    token = await new SignJWT({ name: 'Ada Lovelace', email: 'ada@example.com' })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject('user-42')
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);
    dir = await makeProject({
      'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
api: { adminKey: ${ADMIN_KEY} }
auth:
  providers:
    - { issuer: "${ISSUER}", audience: ${AUDIENCE}, jwks: ./jwks.json, algorithms: [ES256] }
routes: []
`,
      'jwks.json': JSON.stringify({ keys: [jwk] }),
      ...FUNCTIONS,
    });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const newClient = () => new ConvexHttpClient(gateway.url, { logger: recordingLogger(logged) });
  before(() => {
    client = newClient();
  });

  describe('the official client', () => {
    test('query, mutation and action, by reference and by name', async () => {
      const id = await client.mutation(anyApi.messages!.send!, { author: 'client', body: 'hi' });
      assert.equal(typeof id, 'string');
      const list = await client.query(anyApi.messages!.list!, { author: 'client' });
      assert.deepEqual(
        list.map((m: { _id: string; body: string }) => [m._id, m.body]),
        [[id, 'hi']],
      );
      assert.equal(await client.query(makeFunctionReference<'query'>('messages:count'), {}), 1);
      assert.equal(await client.query(makeFunctionReference<'query'>('messages')), 'the default export');
      assert.equal(await client.query(anyApi.dir!.file!.fn!), 'nested module');
      const result = await client.action(anyApi.actions!.sendAndCount!, { author: 'client' });
      assert.deepEqual(result.mine, ['hi', 'from an action']);
    });

    test('a failing function throws an Error with its message', async () => {
      await assert.rejects(client.query(anyApi.errors!.plain!), (error: Error) => {
        assert.ok(!(error instanceof ConvexError));
        assert.match(error.message, /Server Error/);
        assert.match(error.message, /Uncaught Error: plain failure/);
        return true;
      });
      await assert.rejects(client.mutation(anyApi.messages!.send!, { author: 5, body: 'x' }), /ArgumentValidationError[\s\S]*author/);
      await assert.rejects(client.query(anyApi.messages!.nothing!), /Could not find public function for 'messages:nothing'/);
      await assert.rejects(client.mutation(anyApi.messages!.list!, { author: 'x' }), /Trying to execute messages:list as Mutation/);
    });

    test('a ConvexError with data arrives as a ConvexError whose .data is intact, bigints included', async () => {
      await assert.rejects(client.mutation(anyApi.errors!.withData!), (error: unknown) => {
        assert.ok(error instanceof ConvexError, 'a ConvexError');
        assert.deepEqual(error.data, { code: 'NOT_ALLOWED', amount: 2n ** 40n, nested: { list: [1n, 'x', null] } });
        return true;
      });
      await assert.rejects(client.action(anyApi.errors!.stringData!), (error: unknown) => {
        assert.ok(error instanceof ConvexError);
        assert.equal(error.data, 'just a message');
        return true;
      });
    });

    test('bigint and bytes arguments and results keep their types', async () => {
      const result = await client.mutation(anyApi.values!.typed!, {
        count: 2n ** 60n + 3n,
        data: new Uint8Array([7, 0, 255]).buffer,
        ratio: -0,
        nested: { list: [-1n, 'z'], flag: true },
      });
      assert.equal(result.countType, 'bigint');
      assert.equal(result.dataIsBytes, true);
      assert.equal(result.doubled, (2n ** 60n + 3n) * 2n);
      assert.ok(result.echo.data instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(result.echo.data)], [7, 0, 255]);
      assert.ok(Object.is(result.echo.ratio, -0));
      assert.deepEqual(result.echo.nested, { list: [-1n, 'z'], flag: true });
      const specials = await client.action(anyApi.values!.specials!);
      assert.equal(specials.big, 2n ** 62n);
      assert.ok(Number.isNaN(specials.nan));
      assert.equal(specials.negInf, -Infinity);
      assert.deepEqual([...new Uint8Array(specials.bytes)], [0, 255, 7]);
    });

    test('internal functions are refused without the admin key and run with setAdminAuth', async () => {
      await assert.rejects(client.query(anyApi.messages!.secret!), /^Error: Could not find public function for 'messages:secret'|Could not find public function for 'messages:secret'/);
      await assert.rejects(client.mutation(anyApi.messages!.secretWrite!), /Could not find public function for 'messages:secretWrite'/);
      await assert.rejects(client.action(anyApi.messages!.secretAction!), /Could not find public function for 'messages:secretAction'/);
      const admin = newClient();
      (admin as unknown as { setAdminAuth(key: string, actingAs?: object): void }).setAdminAuth(ADMIN_KEY);
      assert.equal(await admin.query(anyApi.messages!.secret!), 'internal query result');
      assert.equal(typeof (await admin.mutation(anyApi.messages!.secretWrite!)), 'string');
      assert.equal(await admin.action(anyApi.messages!.secretAction!), 'internal action result');
      // /api/function runs any kind, for admins only.
      const adminFunction = (admin as unknown as { function(name: string, componentPath?: string, args?: object): Promise<unknown> }).function;
      assert.equal(await adminFunction.call(admin, 'messages:secret', undefined, {}), 'internal query result');
      const anonymousFunction = (client as unknown as { function(name: string, componentPath?: string, args?: object): Promise<unknown> }).function;
      await assert.rejects(anonymousFunction.call(client, 'messages:count', undefined, {}), /Forbidden/);
      // An admin acting as a user.
      const actingAs = newClient();
      (actingAs as unknown as { setAdminAuth(key: string, actingAs?: object): void }).setAdminAuth(ADMIN_KEY, { subject: 'acted', issuer: 'https://acting.example' });
      assert.deepEqual(await actingAs.query(anyApi.auth!.whoami!), { subject: 'acted', issuer: 'https://acting.example', tokenIdentifier: 'https://acting.example|acted' });
      // A wrong admin key is refused before anything runs.
      const wrong = newClient();
      (wrong as unknown as { setAdminAuth(key: string): void }).setAdminAuth('not-the-admin-key-at-all');
      await assert.rejects(wrong.query(anyApi.messages!.count!), /BadAdminKey/);
    });

    test('a valid bearer token is the identity functions see; an invalid one is a 401 InvalidAuthHeader', async () => {
      const user = newClient();
      user.setAuth(token);
      const identity = await user.query(anyApi.auth!.whoami!);
      assert.equal(identity.tokenIdentifier, `${ISSUER}|user-42`);
      assert.equal(identity.subject, 'user-42');
      assert.equal(identity.issuer, ISSUER);
      assert.equal(identity.name, 'Ada Lovelace');
      assert.equal(identity.email, 'ada@example.com');
      assert.equal(await client.query(anyApi.auth!.whoami!), null, 'anonymous: null');

      const bad = newClient();
      bad.setAuth('not.a.jwt');
      await assert.rejects(bad.query(anyApi.auth!.whoami!), (error: Error) => {
        assert.ok(!(error instanceof ConvexError));
        const body = JSON.parse(error.message);
        assert.equal(body.code, 'InvalidAuthHeader');
        assert.equal(typeof body.message, 'string');
        return true;
      });
      const tampered = newClient();
      tampered.setAuth(`${token.slice(0, -4)}AAAA`);
      await assert.rejects(tampered.mutation(anyApi.auth!.whoamiMutation!), /"code":"InvalidAuthHeader"/);
    });

    test('console output of a function reaches the client logger as log lines', async () => {
      logged.length = 0;
      assert.equal(await client.query(anyApi.logs!.chatty!), 'done');
      assert.deepEqual(
        logged.map((line) => line.text),
        ["%c[CONVEX Q(logs:chatty)] [LOG] 'hello' { a: 1 }", "%c[CONVEX Q(logs:chatty)] [WARN] 'careful'"],
      );
      logged.length = 0;
      await client.action(anyApi.logs!.chattyAction!);
      assert.deepEqual(
        logged.map((line) => line.text),
        ["%c[CONVEX A(logs:chattyAction)] [INFO] 'from an action'", "%c[CONVEX A(logs:chattyAction)] [ERROR] 'oops'"],
      );
      assert.ok(!logged.some((line) => /Could not parse/.test(line.text)));
    });

    test('consistentQuery reads through query_ts and query_at_ts', async () => {
      const consistent = (client as unknown as { consistentQuery(ref: unknown, args?: object): Promise<unknown> }).consistentQuery;
      assert.equal(typeof (await consistent.call(client, anyApi.messages!.count!, {})), 'number');
    });
  });

  describe('raw HTTP', () => {
    const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(gateway.url + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

    test('format json gives an int64 as a decimal string and bytes as base64; convex_encoded_json gives $integer and $bytes', async () => {
      const args = { value: { n: { $integer: Buffer.from(new BigInt64Array([123n]).buffer).toString('base64') }, b: { $bytes: Buffer.from([1, 2, 3]).toString('base64') }, f: 1.5 } };
      const clean = await (await post('/api/query', { path: 'values:echo', args, format: 'json' })).json();
      assert.deepEqual(clean, { status: 'success', value: { n: '123', b: 'AQID', f: 1.5 } });
      const encoded = await (await post('/api/query', { path: 'values:echo', args, format: 'convex_encoded_json' })).json();
      assert.deepEqual(encoded, { status: 'success', value: { n: { $integer: 'ewAAAAAAAAA=' }, b: { $bytes: 'AQID' }, f: 1.5 } });
      // Without a format (and no Convex-Client header): json.
      const defaulted = await (await post('/api/query', { path: 'values:echo', args })).json();
      assert.deepEqual(defaulted.value, { n: '123', b: 'AQID', f: 1.5 });
      // Args may be an object or a one-element array, as ConvexHttpClient sends them.
      const wrapped = await (await post('/api/query', { path: 'values:echo', args: [args], format: 'json' })).json();
      assert.deepEqual(wrapped.value, { n: '123', b: 'AQID', f: 1.5 });
      // Special floats.
      const special = await (await post('/api/action', { path: 'values:specials', args: {}, format: 'convex_encoded_json' })).json();
      assert.deepEqual(special.value.negZero, { $float: 'AAAAAAAAAIA=' });
      assert.deepEqual(special.value.nan, { $float: Buffer.from(new Float64Array([NaN]).buffer).toString('base64') });
      const specialClean = await (await post('/api/action', { path: 'values:specials', args: {}, format: 'json' })).json();
      assert.equal(specialClean.value.nan, 'NaN');
      assert.equal(specialClean.value.inf, 'Infinity');
      assert.equal(specialClean.value.negInf, '-Infinity');
    });

    test('a function error is a 200 with status "error", errorData only for a ConvexError, and logLines omitted when empty', async () => {
      const plain = await post('/api/query', { path: 'errors:plain', args: {}, format: 'json' });
      assert.equal(plain.status, 200);
      const body = await plain.json();
      assert.equal(body.status, 'error');
      assert.match(body.errorMessage, /^\[Request ID: [^\]]+\] Server Error\nUncaught Error: plain failure/);
      assert.ok(!('errorData' in body));
      assert.ok(!('logLines' in body));
      const withData = await (await post('/api/mutation', { path: 'errors:withData', args: {}, format: 'json' })).json();
      assert.deepEqual(withData.errorData, { code: 'NOT_ALLOWED', amount: String(2n ** 40n), nested: { list: ['1', 'x', null] } });
      const logs = await (await post('/api/query', { path: 'logs:chatty', args: {}, format: 'json' })).json();
      assert.deepEqual(logs.logLines, ["[LOG] 'hello' { a: 1 }", "[WARN] 'careful'"]);
    });

    test('an unknown format is 400 BadFormat', async () => {
      const response = await post('/api/query', { path: 'messages:count', args: {}, format: 'yaml' });
      assert.equal(response.status, 400);
      assert.equal((await response.json()).code, 'BadFormat');
    });

    test('a missing or wrong Content-Type, or a body that is not JSON, is 400 BadJsonBody', async () => {
      for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }]) {
        const response = await post('/api/query', { path: 'messages:count', args: {} }, headers as Record<string, string>);
        assert.equal(response.status, 400, JSON.stringify(headers));
        const body = await response.json();
        assert.equal(body.code, 'BadJsonBody');
        assert.match(body.message, /Content-Type: application\/json/);
      }
      const broken = await post('/api/query', '{"path": "messages:count", ', { 'content-type': 'application/json' });
      assert.equal(broken.status, 400);
      assert.equal((await broken.json()).code, 'BadJsonBody');
      const charset = await post('/api/query', { path: 'messages:count', args: {} }, { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(charset.status, 200);
    });

    test('POST /api/run/<module path>/<fn> runs "dir/file:fn"; fewer than two segments is 400 MissingIdentifier', async () => {
      const nested = await post('/api/run/dir/file/fn', { args: {} });
      assert.equal(nested.status, 200);
      assert.deepEqual(await nested.json(), { status: 'success', value: 'nested module' });
      const run = await (await post('/api/run/values/echo', { args: { value: { $integer: 'AQAAAAAAAAA=' } } })).json();
      assert.deepEqual(run, { status: 'success', value: '1' }, '/api/run defaults to the json format');
      for (const path of ['/api/run/x', '/api/run/', '/api/run/x/']) {
        const response = await post(path, { args: {} });
        assert.equal(response.status, 400, path);
        assert.equal((await response.json()).code, 'MissingIdentifier', path);
      }
    });

    test('a bad function path is 400 BadConvexFunctionIdentifier', async () => {
      for (const path of ['messages.ts:list', '/abs:fn', 'messages:1bad', 'a b:c']) {
        const response = await post('/api/query', { path, args: {} });
        assert.equal(response.status, 400, path);
        const body = await response.json();
        assert.equal(body.code, 'BadConvexFunctionIdentifier', path);
        assert.match(body.message, /is not a valid path to a Convex function/);
      }
    });

    test('GET /api/query?path=&args= runs a query', async () => {
      const args = encodeURIComponent(JSON.stringify({ value: { $integer: 'AgAAAAAAAAA=' } }));
      const response = await fetch(`${gateway.url}/api/query?path=values:echo&args=${args}&format=json`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'success', value: '2' });
      const noArgs = await (await fetch(`${gateway.url}/api/query?path=messages`)).json();
      assert.deepEqual(noArgs, { status: 'success', value: 'the default export' });
      const badArgs = await fetch(`${gateway.url}/api/query?path=messages&args=%7Bnope`);
      assert.equal(badArgs.status, 400);
    });

    test('/api has permissive CORS: the origin mirrored, credentials allowed, preflights answered', async () => {
      const origin = 'https://app.example.com';
      const response = await post('/api/query', { path: 'messages:count', args: {} }, { 'content-type': 'application/json', origin });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('access-control-allow-origin'), origin);
      assert.equal(response.headers.get('access-control-allow-credentials'), 'true');
      assert.match(response.headers.get('vary') ?? '', /Origin/i);
      // Errors the gateway makes itself carry them too.
      const refused = await post('/api/query', 'nope', { 'content-type': 'text/plain', origin });
      assert.equal(refused.status, 400);
      assert.equal(refused.headers.get('access-control-allow-origin'), origin);

      const preflight = await fetch(`${gateway.url}/api/mutation`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization, convex-client' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.equal(preflight.headers.get('access-control-allow-headers'), 'content-type, authorization, convex-client');
      assert.equal(preflight.headers.get('access-control-max-age'), '86400');
    });
  });
});
