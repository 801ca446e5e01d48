import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { expandString } from '../../src/config/env.js';
import { load, locations, writeFixture, yaml } from './helpers.js';

test('expandString substitutes ${NAME} and uses :- defaults when unset or empty', () => {
  const env = { HOST: 'example.com', EMPTY: '' };
  assert.equal(expandString('https://${HOST}/x', env).value, 'https://example.com/x');
  assert.equal(expandString('${MISSING:-fallback}', env).value, 'fallback');
  assert.equal(expandString('${EMPTY:-fallback}', env).value, 'fallback');
  assert.equal(expandString('${EMPTY}', env).value, '');
  assert.equal(expandString('${HOST:-other}', env).value, 'example.com');
  assert.equal(expandString('${MISSING:-}', env).value, '');
});

test('expandString treats $${ as a literal ${ and reports malformed references', () => {
  assert.deepEqual(expandString('cost: $${HOST}', { HOST: 'x' }), { value: 'cost: ${HOST}', substituted: false, problems: [] });
  assert.deepEqual(
    expandString('${NAME-x} ${1BAD} ${A:-${B}} ${OPEN', {}).problems.map((p) => (p.kind === 'malformed' ? p.text : p.name)),
    ['${NAME-x}', '${1BAD}', '${A:-${B}', '${OPEN'],
  );
  assert.deepEqual(expandString('${A}${B}', {}).problems, [
    { kind: 'unset', name: 'A' },
    { kind: 'unset', name: 'B' },
  ]);
});

test('an unset variable without default is env/unset-variable at its scalar, and nothing else is said about it', async () => {
  const result = await load(yaml`
    version: 1
    cors:
      origins: ["\${CLIENT_ORIGIN}"]
    routes: []
  `);
  assert.equal(result.config, null);
  // Not also a malformed origin '${CLIENT_ORIGIN}': one root cause, one message.
  assert.deepEqual(locations(result), ['routes.yaml:3:13 env/unset-variable']);
  assert.equal(result.diagnostics[0]!.message, 'environment variable CLIENT_ORIGIN is not set');
  assert.match(result.diagnostics[0]!.hint!, /\$\{CLIENT_ORIGIN:-value\}/);
});

test('a malformed reference is env/malformed-reference at its scalar', async () => {
  const result = await load(yaml`
    version: 1
    server:
      host: \${HOST-localhost}
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:9 env/malformed-reference']);
  assert.match(result.diagnostics[0]!.hint!, /\$\{NAME:-default\}/);
});

test('.env beside routes.yaml fills in variables but never overrides the real environment', async () => {
  const env = { FROM_BOTH: 'real' };
  const before = { ...process.env };
  const result = await load(
    yaml`
      version: 1
      server:
        host: \${FROM_DOTENV}
        publicUrl: https://\${FROM_BOTH}.example.com
      routes: []
    `,
    { env, extra: { '.env': 'FROM_DOTENV=0.0.0.0\nFROM_BOTH=dotenv\n' } },
  );
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.config!.server.host, '0.0.0.0');
  assert.equal(result.config!.server.publicUrl, 'https://real.example.com');
  assert.deepEqual(env, { FROM_BOTH: 'real' }, 'the env passed in is not modified');
  assert.deepEqual({ ...process.env }, before, 'process.env is not modified');
});

test('a real variable that is undefined does not hide the .env value', async () => {
  const result = await load(
    yaml`
      version: 1
      server:
        host: \${HOST_X}
      routes: []
    `,
    { env: { HOST_X: undefined }, extra: { '.env': 'HOST_X=10.0.0.1' } },
  );
  assert.equal(result.config!.server.host, '10.0.0.1');
});

test('process.env is the default environment', async () => {
  const { file } = writeFixture(yaml`
    version: 1
    server:
      host: \${PORTICO_TEST_CONFIG_HOST}
    routes: []
  `);
  process.env.PORTICO_TEST_CONFIG_HOST = '192.0.2.1';
  try {
    const result = await loadConfig(file);
    assert.equal(result.config!.server.host, '192.0.2.1');
  } finally {
    delete process.env.PORTICO_TEST_CONFIG_HOST;
  }
});

test('an unreadable .env is env/dotenv-unreadable at the .env file', async () => {
  const { file, dir } = writeFixture(yaml`
    version: 1
    routes: []
  `);
  mkdirSync(path.join(dir, '.env'));
  const result = await loadConfig(file, { env: {} });
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['.env:1:1 env/dotenv-unreadable']);
  assert.equal(result.diagnostics[0]!.file, path.join(dir, '.env'));
});

test('a plain scalar that expands to a number or boolean takes that type; a quoted one stays a string', async () => {
  const result = await load(
    yaml`
      version: 1
      server:
        port: \${PORT:-3000}
      cors:
        credentials: \${CREDS}
        maxAge: \${AGE}
      routes:
        - path: /a
          method: GET
          handler: a
          bodyLimit: \${LIMIT}
    `,
    { env: { CREDS: 'false', AGE: '600', LIMIT: '1.5e3' } },
  );
  assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(result.config!.server.port, 3000);
  assert.equal(result.config!.routes[0]!.cors!.credentials, false);
  assert.equal(result.config!.routes[0]!.cors!.maxAge, 600);
  assert.equal(result.config!.routes[0]!.bodyLimit, 1500);
  const quoted = await load(
    yaml`
      version: 1
      server:
        port: "\${PORT:-3000}"
      routes: []
    `,
  );
  assert.deepEqual(locations(quoted), ['routes.yaml:3:9 schema/type']);
  assert.equal(quoted.diagnostics[0]!.message, "server.port must be an integer, not '3000'");
});

test('a float-looking expansion becomes a number, so an integer-only key reports the number', async () => {
  const result = await load(
    yaml`
      version: 1
      server:
        port: \${PORT}
      routes: []
    `,
    { env: { PORT: '80.5' } },
  );
  assert.deepEqual(locations(result), ['routes.yaml:3:9 schema/type']);
  assert.equal(result.diagnostics[0]!.message, 'server.port must be an integer, not 80.5');
});

test('block scalars expand and stay strings', async () => {
  const result = await load(
    yaml`
      version: 1
      server:
        host: >-
          \${HOST}
      routes: []
    `,
    { env: { HOST: '127.0.0.2' } },
  );
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.config!.server.host, '127.0.0.2');
  const numeric = await load(
    yaml`
      version: 1
      server:
        port: >-
          \${PORT}
      routes: []
    `,
    { env: { PORT: '3000' } },
  );
  assert.deepEqual(locations(numeric), ['routes.yaml:3:9 schema/type']);
});

test('keys are never expanded', async () => {
  const result = await load(
    yaml`
      version: 1
      routes:
        - path: /a
          method: GET
          handler: a
          \${KEY}: 1s
    `,
    { env: { KEY: 'timeout' } },
  );
  assert.deepEqual(locations(result), ['routes.yaml:6:5 schema/unknown-key']);
  assert.match(result.diagnostics[0]!.message, /unknown key '\$\{KEY\}'/);
});

test('$PORT is the port when the file sets none, else 3000; a bad $PORT is env/invalid-port', async () => {
  const source = yaml`
    version: 1
    server:
      host: 0.0.0.0
    routes: []
  `;
  assert.equal((await load(source, { env: { PORT: '8080' } })).config!.server.port, 8080);
  assert.equal((await load(source, { env: {} })).config!.server.port, 3000);
  assert.equal((await load(source, { extra: { '.env': 'PORT=9090' } })).config!.server.port, 9090);
  const bad = await load(source, { env: { PORT: 'http' } });
  assert.equal(bad.config, null);
  assert.deepEqual(locations(bad), ['routes.yaml:3:3 env/invalid-port']);
  const fileWins = await load(
    yaml`
      version: 1
      server: { port: 4000 }
      routes: []
    `,
    { env: { PORT: 'http' } },
  );
  assert.deepEqual(fileWins.diagnostics, []);
  assert.equal(fileWins.config!.server.port, 4000);
});

test('the design example loads with its variables from the environment', async () => {
  const file = path.join(import.meta.dirname, 'fixtures', 'valid', 'routes.yaml');
  const result = await loadConfig(file, { env: { CLIENT_ORIGIN: 'https://app.example.com' } });
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.config!.server.publicUrl, 'http://localhost:3000');
  assert.deepEqual(result.config!.cors!.origins, ['https://app.example.com']);
  const unset = await loadConfig(file, { env: {} });
  assert.deepEqual(locations(unset), ['routes.yaml:26:13 env/unset-variable']);
});
