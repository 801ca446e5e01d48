import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, locations, yaml } from './helpers.js';

test('a remote backend without url and adminKey is config/remote-backend at its kind', async () => {
  const result = await load(yaml`
    version: 1
    backend:
      kind: remote
    routes: []
  `);
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['routes.yaml:3:9 config/remote-backend', 'routes.yaml:3:9 config/remote-backend']);
  assert.deepEqual(result.diagnostics.map((d) => d.message).sort(), [
    'backend.kind remote needs backend.adminKey',
    'backend.kind remote needs backend.url',
  ]);
});

test('keys that do nothing with the chosen backend are config/ignored-key warnings', async () => {
  const remote = await load(yaml`
    version: 1
    backend:
      kind: remote
      url: https://functions.example.com
      adminKey: secret
      database: ./x.sqlite
    routes: []
  `);
  assert.deepEqual(locations(remote), ['routes.yaml:6:3 config/ignored-key']);
  assert.ok(remote.config, 'warnings do not block');
  const sqlite = await load(yaml`
    version: 1
    backend:
      pool: 5
      url: https://x.example.com
    routes: []
  `);
  assert.deepEqual(locations(sqlite), ['routes.yaml:3:3 config/ignored-key', 'routes.yaml:4:3 config/ignored-key']);
});

test('database storage without a PostgreSQL backend is config/storage-database, saying why', async () => {
  const sqlite = await load(yaml`
    version: 1
    storage:
      kind: database
    routes: []
  `);
  assert.deepEqual(locations(sqlite), ['routes.yaml:3:9 config/storage-database']);
  assert.match(sqlite.diagnostics[0]!.message, /needs a PostgreSQL backend\.database/);
  const remote = await load(yaml`
    version: 1
    backend: { kind: remote, url: https://f.example.com, adminKey: k }
    storage: { kind: database }
    routes: []
  `);
  assert.deepEqual(locations(remote), ['routes.yaml:3:18 config/storage-database']);
  const postgres = await load(yaml`
    version: 1
    backend: { database: postgresql://db.example.com/app }
    storage: { kind: database }
    routes: []
  `);
  assert.deepEqual(postgres.diagnostics, []);
});

test('a publicUrl with a query, fragment or credentials is config/malformed-url', async () => {
  const result = await load(yaml`
    version: 1
    server:
      publicUrl: https://api.example.com/base?x=1
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:14 config/malformed-url']);
  assert.equal(result.diagnostics[0]!.hint, "write 'https://api.example.com/base'");
  const creds = await load(yaml`
    version: 1
    server:
      publicUrl: https://me:pw@api.example.com
    routes: []
  `);
  assert.deepEqual(locations(creds), ['routes.yaml:3:14 config/malformed-url']);
  const unparsable = await load(yaml`
    version: 1
    server:
      publicUrl: http://exa%mple.com
    routes: []
  `);
  assert.deepEqual(locations(unparsable), ['routes.yaml:3:14 config/malformed-url']);
});

test('a publicUrl the schema pattern refuses is reported once, by the schema', async () => {
  const result = await load(yaml`
    version: 1
    server:
      publicUrl: api.example.com
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:14 schema/pattern']);
});

test('an unparsable postgres URL is config/malformed-url', async () => {
  const result = await load(yaml`
    version: 1
    backend:
      database: postgres://host:notaport/db
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:13 config/malformed-url']);
});

test('a JWKS file that does not exist is config/missing-file; one that exists, or a URL, is fine', async () => {
  const result = await load(
    yaml`
      version: 1
      auth:
        providers:
          - issuer: a
            jwks: ./keys/missing.json
          - issuer: b
            jwks: ./keys/jwks.json
          - issuer: c
            jwks: https://c.example.com/jwks.json
          - issuer: d
            jwks: file:///etc/jwks.json
      routes: []
    `,
    { extra: { 'keys/jwks.json': '{"keys":[]}' } },
  );
  assert.deepEqual(locations(result), ['routes.yaml:5:13 config/missing-file', 'routes.yaml:11:13 config/malformed-url']);
});

test('a functions folder that does not exist is config/functions-dir', async () => {
  const explicit = await load(
    yaml`
      version: 1
      functions: ./handlers
      routes: []
    `,
  );
  assert.deepEqual(locations(explicit), ['routes.yaml:2:12 config/functions-dir']);
  const defaulted = await load(
    yaml`
      version: 1
      routes:
        - { path: /a, method: GET, handler: a }
    `,
    { functions: false },
  );
  assert.deepEqual(locations(defaulted), ['routes.yaml:2:1 config/functions-dir']);
  const unneeded = await load(
    yaml`
      version: 1
      routes: []
    `,
    { functions: false },
  );
  assert.deepEqual(unneeded.diagnostics, [], 'no routes and no explicit folder: nothing needs it');
});

test('server.trustProxy entries that are not addresses or CIDR ranges are config/trust-proxy, each at its own place', async () => {
  const result = await load(yaml`
    version: 1
    server:
      trustProxy: [loopback, 10.0.0.0/8, 10.0.0.300, "fd00::/200", proxy.internal]
    routes: []
  `);
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['routes.yaml:3:38 config/trust-proxy', 'routes.yaml:3:50 config/trust-proxy', 'routes.yaml:3:64 config/trust-proxy']);
  assert.match(result.diagnostics[0]!.message, /trustProxy '10\.0\.0\.300' is not an IP address or CIDR range/);
  const single = await load(yaml`
    version: 1
    server: { trustProxy: "192.168.0.0/40" }
    routes: []
  `);
  assert.deepEqual(locations(single), ['routes.yaml:2:23 config/trust-proxy']);
});

test('server.trustProxy accepts true, a hop count, an address, a range and a list; the slow-client limits resolve to milliseconds', async () => {
  for (const value of ['true', '2', '10.1.2.3', '"10.0.0.0/8"', '[loopback, "2001:db8::/32", 172.16.0.1]']) {
    const result = await load(`version: 1\nserver: { trustProxy: ${value}, headersTimeout: 5s, requestTimeout: 1m, maxConnections: 100, maxConnectionsPerClient: 10 }\nroutes: []\n`);
    assert.deepEqual(result.diagnostics, [], value);
    const server = result.config!.server;
    assert.deepEqual([server.headersTimeoutMs, server.requestTimeoutMs, server.maxConnections, server.maxConnectionsPerClient], [5_000, 60_000, 100, 10]);
  }
  const defaults = (await load('version: 1\nroutes: []\n')).config!.server;
  assert.equal(defaults.trustProxy, false);
  assert.equal(defaults.maxConnectionsPerClient, null);
  assert.ok(defaults.headersTimeoutMs <= defaults.requestTimeoutMs);
});
