import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULTS } from '../../src/config/index.js';
import { load, yaml } from './helpers.js';

test('a minimal config resolves to the documented defaults', async () => {
  const { config, diagnostics, dir, file } = await load(yaml`
    version: 1
    routes:
      - { path: /a, method: GET, handler: a }
  `);
  assert.deepEqual(diagnostics, []);
  assert.ok(config);
  assert.equal(config.file, file);
  assert.equal(config.functionsDir, path.join(dir, 'functions'));
  assert.deepEqual(config.server, {
    host: '127.0.0.1',
    port: 3000,
    publicUrl: null,
    shutdownTimeoutMs: 30_000,
    headersTimeoutMs: 20_000,
    requestTimeoutMs: 300_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 10_000,
    maxConnectionsPerClient: null,
    trustProxy: false,
    tls: null,
    http2: false,
  });
  assert.deepEqual(config.limits, { body: 20 * 1024 * 1024, response: 20 * 1024 * 1024, timeoutMs: 120_000 });
  assert.deepEqual(config.backend, { kind: 'local', database: { kind: 'sqlite', file: path.join(dir, '.data/portico.sqlite') }, queryCache: { maxEntries: 10_000 } });
  assert.deepEqual(config.storage, { kind: 'fs', dir: path.join(dir, '.data/storage'), inlineTypes: [] });
  assert.deepEqual(config.auth, { providers: [] });
  assert.equal(config.cors, null);
  assert.deepEqual(config.api, { prefix: '/api', adminKey: null, logLines: null });
  assert.deepEqual(config.logging, { level: 'info', format: 'auto' });
  assert.deepEqual(config.routes, [
    {
      index: 0,
      path: '/a',
      kind: 'exact',
      methods: ['GET'],
      handler: 'a',
      cors: null,
      auth: 'optional',
      bodyLimit: DEFAULTS.bodyLimit,
      responseLimit: DEFAULTS.responseLimit,
      timeoutMs: DEFAULTS.timeoutMs,
      proxy: null,
      rateLimit: null,
      request: null,
      compression: null,
      middleware: null,
      summary: null,
      description: null,
      tags: [],
    },
  ]);
});

test('sizes use binary units and durations become milliseconds, route values over limits', async () => {
  const { config } = await load(yaml`
    version: 1
    server: { shutdownTimeout: 2m }
    limits: { body: 1mb, response: 512kb, timeout: 30s }
    routes:
      - { path: /a, method: POST, handler: a }
      - { path: /b, method: POST, handler: b, bodyLimit: 1.5gb, responseLimit: 100, timeout: 250ms }
      - { path: /c, method: POST, handler: c, bodyLimit: 10 KB, timeout: 1h }
  `);
  assert.equal(config!.server.shutdownTimeoutMs, 120_000);
  assert.deepEqual(config!.limits, { body: 1_048_576, response: 524_288, timeoutMs: 30_000 });
  assert.deepEqual(
    config!.routes.map((r) => [r.bodyLimit, r.responseLimit, r.timeoutMs]),
    [
      [1_048_576, 524_288, 30_000],
      [1.5 * 1024 ** 3, 100, 250],
      [10_240, 524_288, 3_600_000],
    ],
  );
});

test('relative paths resolve against the folder of routes.yaml, URLs and :memory: stay as written', async () => {
  const { config, dir } = await load(
    yaml`
      version: 1
      functions: ./src/fns
      backend: { database: ../db/app.sqlite }
      storage: { dir: files }
      auth:
        providers:
          - { issuer: a, jwks: ./jwks.json, audience: app, algorithms: [ES256] }
          - { issuer: b, jwks: https://b.example.com/jwks.json, audience: [x, y] }
      routes: []
    `,
    { extra: { 'src/fns/.keep': '', 'jwks.json': '{}' } },
  );
  assert.equal(config!.functionsDir, path.join(dir, 'src/fns'));
  assert.deepEqual(config!.backend, { kind: 'local', database: { kind: 'sqlite', file: path.join(path.dirname(dir), 'db/app.sqlite') }, queryCache: { maxEntries: 10_000 } });
  assert.equal(config!.storage.dir, path.join(dir, 'files'));
  assert.deepEqual(config!.auth.providers, [
    { issuer: 'a', audience: ['app'], jwks: path.join(dir, 'jwks.json'), algorithms: ['ES256'] },
    { issuer: 'b', audience: ['x', 'y'], jwks: 'https://b.example.com/jwks.json', algorithms: ['RS256', 'ES256', 'EdDSA'] },
  ]);
  const memory = await load(yaml`
    version: 1
    backend: { database: ":memory:" }
    routes: []
  `);
  assert.deepEqual(memory.config!.backend, { kind: 'local', database: { kind: 'sqlite', file: ':memory:' }, queryCache: { maxEntries: 10_000 } });
});

test('postgres:// and postgresql:// databases are PostgreSQL with a pool; remote backends keep url and key', async () => {
  for (const url of ['postgres://u:p@db:5432/app', 'postgresql://db/app']) {
    const { config } = await load(`version: 1\nbackend: { database: "${url}", pool: 4 }\nroutes: []\n`);
    assert.deepEqual(config!.backend, { kind: 'local', database: { kind: 'postgres', url, pool: 4 }, queryCache: { maxEntries: 10_000 } });
  }
  const { config } = await load(yaml`
    version: 1
    backend: { database: postgres://db/app }
    routes: []
  `);
  assert.deepEqual(config!.backend, { kind: 'local', database: { kind: 'postgres', url: 'postgres://db/app', pool: 10 }, queryCache: { maxEntries: 10_000 } });
  const remote = await load(yaml`
    version: 1
    backend: { kind: remote, url: https://fns.example.com/, adminKey: key }
    routes: []
  `);
  assert.deepEqual(remote.config!.backend, { kind: 'remote', url: 'https://fns.example.com', adminKey: 'key' });
});

test('method is always a list, publicUrl loses its trailing slash, api: false is null', async () => {
  const { config } = await load(yaml`
    version: 1
    server: { publicUrl: https://api.example.com/ }
    api: false
    routes:
      - { path: /a, method: [PATCH, GET], handler: a }
      - { pathPrefix: /b/, method: DELETE, handler: b, auth: required }
    auth:
      providers: [{ issuer: i, jwks: https://i.example.com/jwks }]
  `);
  assert.equal(config!.server.publicUrl, 'https://api.example.com');
  assert.equal(config!.api, null);
  assert.deepEqual(
    config!.routes.map((r) => [r.path, r.kind, r.methods, r.auth]),
    [
      ['/a', 'exact', ['PATCH', 'GET'], 'optional'],
      ['/b/', 'prefix', ['DELETE'], 'required'],
    ],
  );
});

test('a route CORS policy is the top-level one merged with its own; lists replace, false turns it off', async () => {
  const { config } = await load(yaml`
    version: 1
    cors:
      origins: [https://app.example.com]
      allowHeaders: [Content-Type, Digest]
      exposeHeaders: [X-Total]
      maxAge: 600
    routes:
      - { path: /inherit, method: GET, handler: a }
      - { path: /merge, method: GET, handler: a, cors: { allowHeaders: [Authorization], credentials: true } }
      - { path: /off, method: GET, handler: a, cors: false }
  `);
  const top = { origins: ['https://app.example.com'], allowHeaders: ['Content-Type', 'Digest'], exposeHeaders: ['X-Total'], credentials: false, maxAge: 600 };
  assert.deepEqual(config!.cors, top);
  assert.deepEqual(config!.routes[0]!.cors, top);
  assert.deepEqual(config!.routes[1]!.cors, { ...top, allowHeaders: ['Authorization'], credentials: true });
  assert.equal(config!.routes[2]!.cors, null);
});

test('without a top-level policy a route has CORS only if it declares it, with defaults for what it omits', async () => {
  const { config } = await load(yaml`
    version: 1
    cors: false
    routes:
      - { path: /none, method: GET, handler: a }
      - { path: /own, method: GET, handler: a, cors: { origins: ["*"] } }
  `);
  assert.equal(config!.cors, null);
  assert.equal(config!.routes[0]!.cors, null);
  assert.deepEqual(config!.routes[1]!.cors, { origins: ['*'], allowHeaders: ['Content-Type'], exposeHeaders: [], credentials: false, maxAge: 86_400 });
});

test('the resolved config is deeply frozen', async () => {
  const { config } = await load(yaml`
    version: 1
    cors: { origins: ["*"] }
    routes:
      - { path: /a, method: GET, handler: a }
  `);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config!.routes));
  assert.ok(Object.isFrozen(config!.routes[0]!.methods));
  assert.ok(Object.isFrozen(config!.routes[0]!.cors!.origins));
  assert.throws(() => {
    (config!.server as { port: number }).port = 1;
  }, TypeError);
});

test('the hash is the sha256 of the resolved config: independent of key order, formatting, folder, port and host; changed by any served value', async () => {
  const a = await load(yaml`
    version: 1
    server: { port: 4000, host: 0.0.0.0 }
    routes:
      - { path: /a, method: GET, handler: a }
  `);
  const b = await load(yaml`
    routes:
      - handler: a
        method: [GET]
        path: /a
    server:
      host: 0.0.0.0   # same values, other order and style
      port: 4000
    version: 1
  `);
  const c = await load(yaml`
    version: 1
    server: { port: 4000, host: 0.0.0.0 }
    routes:
      - { path: /b, method: GET, handler: a }
  `);
  // Where it listens is not what it serves: the same file hashes the same on any port or host.
  const d = await load(yaml`
    version: 1
    server: { port: 4001, host: 127.0.0.1 }
    routes:
      - { path: /a, method: GET, handler: a }
  `);
  assert.match(a.config!.hash, /^[0-9a-f]{64}$/);
  // Both files sit in different folders: paths inside the project are hashed relative to it.
  assert.notEqual(a.config!.file, b.config!.file);
  assert.equal(a.config!.hash, b.config!.hash);
  assert.notEqual(a.config!.hash, c.config!.hash);
  assert.equal(a.config!.hash, d.config!.hash);
});

test('backend.queryCache: on by default, false turns it off, maxEntries bounds it; bad values are errors', async () => {
  const off = await load(`version: 1\nbackend: { queryCache: false }\nroutes: []\n`);
  assert.equal((off.config!.backend as { queryCache: unknown }).queryCache, null);
  const bounded = await load(`version: 1\nbackend: { queryCache: { maxEntries: 50 } }\nroutes: []\n`);
  assert.deepEqual((bounded.config!.backend as { queryCache: unknown }).queryCache, { maxEntries: 50 });
  for (const bad of ['queryCache: 0', 'queryCache: { maxEntries: 0 }', 'queryCache: { size: 5 }', 'queryCache: "yes"']) {
    const { config, diagnostics } = await load(`version: 1\nbackend: { ${bad} }\nroutes: []\n`);
    assert.equal(config, null, bad);
    assert.ok(diagnostics.some((d) => d.severity === 'error' && d.line === 2 && /queryCache|maxEntries|boolean|size/.test(d.message)), `${bad}: ${JSON.stringify(diagnostics)}`);
  }
});
