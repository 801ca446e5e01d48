// Every rule of the catalogue (src/config/rules.ts) is emitted by a real
// project run through the same check as `portico validate`: a rule nothing
// can trigger, or one whose fixture stopped triggering it, fails here. A new
// rule needs a fixture in FIXTURES below.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import path from 'node:path';
import { loadConfig, RULES } from '../../src/config/index.js';
import { checkProject } from '../../src/server/check-project.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { tlsFixtureFiles } from '../tls/fixture-files.js';

const HANDLER = "import { httpAction, query } from 'portico';\nexport const a = httpAction(async () => new Response('a'));\nexport const q = query({ handler: async () => 1 });\n";

interface Fixture {
  /** routes.yaml */
  yaml: string;
  /** Other files of the project; functions/m.ts holds an HTTP action `a` and a query `q` unless replaced. */
  files?: Record<string, string>;
  env?: Record<string, string>;
  envOptional?: boolean;
  /** Loads through loadConfig with a handler inspector that throws. */
  throwingInspector?: boolean;
}

const route = (lines = '') => `routes:\n  - path: /a\n    method: GET\n    handler: m:a\n${lines}`;
const base = (top = '', routeLines = '') => `version: 1\nfunctions: ./functions\n${top}\n${route(routeLines)}`;

const TLS = tlsFixtureFiles();
const tlsServer = (extra = '') => base(`server:\n  port: 8443\n  tls: { cert: ./tls/server.crt, key: ./tls/server.key${extra} }`);

const FIXTURES: Record<string, Fixture> = {
  'config/unreadable': { yaml: '', files: { 'routes.yaml/placeholder': '' } },
  'yaml/syntax': { yaml: 'version: 1\nroutes: [\n' },
  'yaml/duplicate-key': { yaml: base('version: 1') },
  'yaml/warning': { yaml: base('server: { host: !unknowntag localhost }') },
  'yaml/limit': {
    yaml: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n`,
  },
  'yaml/alias-cycle': { yaml: 'version: 1\nfunctions: ./functions\nserver: &s\n  extra: *s\nroutes: []\n' },

  'env/unset-variable': { yaml: base('server: { host: "${NOT_SET_ANYWHERE}" }') },
  'env/malformed-reference': { yaml: base('server: { host: "${not closed" }') },
  'env/dotenv-unreadable': { yaml: base(), files: { '.env/placeholder': '' } },
  'env/invalid-port': { yaml: base(), env: { PORT: 'eighty' } },

  'schema/unknown-key': { yaml: base('sever: { port: 1 }') },
  'schema/required': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /a\n    handler: m:a\n' },
  'schema/type': { yaml: base('server: { port: "three" }') },
  'schema/enum': { yaml: base('backend: { kind: cloud }') },
  'schema/const': { yaml: 'version: 2\nfunctions: ./functions\n' + route() },
  'schema/pattern': { yaml: base('server: { publicUrl: "ftp://x" }') },
  'schema/minimum': { yaml: base('server: { port: -1 }') },
  'schema/maximum': { yaml: base('server: { port: 70000 }') },
  'schema/minLength': { yaml: base('server: { host: "" }') },
  'schema/minItems': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /a\n    method: []\n    handler: m:a\n' },
  'schema/uniqueItems': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /a\n    method: [GET, GET]\n    handler: m:a\n' },
  'schema/anyOf': { yaml: base('limits: { body: true }') },

  'routes/path-or-prefix': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /a\n    pathPrefix: /b/\n    method: GET\n    handler: m:a\n' },
  'routes/duplicate': { yaml: base('', '  - path: /a\n    method: GET\n    handler: m:a\n') },
  'routes/ambiguous-param': {
    yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /u/:id\n    method: GET\n    handler: m:a\n  - path: /u/:name\n    method: GET\n    handler: m:a\n',
  },
  'routes/duplicate-param': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /u/:id/:id\n    method: GET\n    handler: m:a\n' },
  'routes/prefix-trailing-slash': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - pathPrefix: /files\n    method: GET\n    handler: m:a\n' },
  'routes/reserved-path': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /_portico/mine\n    method: GET\n    handler: m:a\n' },
  'routes/auth-without-provider': { yaml: base('', '    auth: required\n') },
  'routes/handler-or-proxy': { yaml: base('', '    proxy: { upstream: "http://127.0.0.1:8081" }\n') },
  'proxy/strip-without-prefix': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /p\n    method: GET\n    proxy: { upstream: "http://127.0.0.1:8081", stripPrefix: true }\n' },
  'policies/rate-limit': { yaml: base('', '    rateLimit: { requests: 5, per: 1500ms }') },
  'policies/request-schema': { yaml: base('', '    request: { body: { type: objekt } }') },
  'policies/middleware': { yaml: base('middleware: [koa-not-installed-anywhere]') },
  'proxy/unknown-param': { yaml: 'version: 1\nfunctions: ./functions\nroutes:\n  - path: /p/:id\n    method: GET\n    proxy: { upstream: "http://127.0.0.1:8081", rewrite: "/x/{name}" }\n' },

  'cors/credentials-wildcard': { yaml: base('cors: { origins: ["*"], credentials: true }') },
  'cors/malformed-origin': { yaml: base('cors: { origins: ["example.com/path"] }') },
  'cors/empty-origins': { yaml: base('cors: { origins: [] }') },
  'cors/redundant-origins': { yaml: base('cors: { origins: ["*", "https://a.example"] }') },

  'handler/missing-module': { yaml: base().replace('m:a', 'nothere:a') },
  'handler/missing-export': { yaml: base().replace('m:a', 'm:b') },
  'handler/not-http-action': { yaml: base().replace('m:a', 'm:q') },
  // A module that fails to build or load is functions/load; this rule is the
  // guard for an inspector that throws anyway, so its fixture brings one.
  'handler/inspect-failed': { yaml: base(), throwingInspector: true },
  'functions/load': { yaml: base(), files: { 'functions/m.ts': 'export const a = ;\n' } },
  'router/invalid': { yaml: base('router: ./functions/m.ts') },
  'router/unsupported-path': {
    yaml: base('router: ./functions/http.ts'),
    files: { 'functions/http.ts': "import { httpRouter } from 'portico';\nimport { a } from './m';\nconst http = httpRouter();\nhttp.route({ path: '/x/:id', method: 'GET', handler: a });\nexport default http;\n" },
  },

  'config/functions-dir': { yaml: base().replace('./functions', './nowhere') },
  'config/remote-backend': { yaml: base('backend: { kind: remote }') },
  'config/storage-database': { yaml: base('storage: { kind: database }') },
  'config/malformed-url': { yaml: base('backend: { kind: local, database: "postgres://host:notaport/db" }') },
  'config/missing-file': {
    yaml: base('auth:\n  providers:\n    - issuer: https://issuer.example\n      audience: app\n      jwks: ./keys/missing.json'),
  },
  'config/ignored-key': { yaml: base('backend: { kind: remote, url: "http://127.0.0.1:1", adminKey: "0123456789abcdef", database: ./db.sqlite }') },
  'config/trust-proxy': { yaml: base('server: { trustProxy: [10.0.0.0/8, 10.0.0.300] }') },

  'tls/unreadable': { yaml: tlsServer() },
  'tls/invalid': { yaml: tlsServer(), files: { 'tls/server.crt': 'not a certificate\n', 'tls/server.key': 'not a key\n' } },
  'tls/mismatch': { yaml: tlsServer(), files: { 'tls/server.crt': TLS.valid.cert, 'tls/server.key': TLS.other.key } },
  'tls/expired': { yaml: tlsServer(), files: { 'tls/server.crt': TLS.expired.cert, 'tls/server.key': TLS.expired.key } },
  'tls/expiring': { yaml: tlsServer(), files: { 'tls/server.crt': TLS.expiring.cert, 'tls/server.key': TLS.expiring.key } },
  'tls/redirect-port': { yaml: tlsServer(', redirectPort: 8443'), files: { 'tls/server.crt': TLS.valid.cert, 'tls/server.key': TLS.valid.key } },
};

const projects: string[] = [];
after(async () => {
  for (const dir of projects) await removeProject(dir);
});

async function emitted(fixture: Fixture): Promise<string[]> {
  const files: Record<string, string> = { 'functions/m.ts': HANDLER, ...fixture.files };
  if (!Object.keys(files).some((name) => name.startsWith('routes.yaml'))) files['routes.yaml'] = fixture.yaml;
  const dir = await makeProject(files);
  projects.push(dir);
  if (fixture.throwingInspector) {
    const result = await loadConfig(path.join(dir, 'routes.yaml'), { env: {}, inspectHandler: async () => { throw new Error('inspector broke'); } });
    return result.diagnostics.map((d) => d.rule);
  }
  const check = await checkProject(path.join(dir, 'routes.yaml'), { env: fixture.env ?? {}, envOptional: fixture.envOptional });
  return check.diagnostics.map((d) => d.rule);
}

test('every rule in the catalogue has a fixture, and no fixture names an unknown rule', () => {
  const rules = Object.keys(RULES).filter((id) => id !== 'schema/invalid');
  assert.deepEqual(rules.filter((id) => !(id in FIXTURES)), [], 'rules without a fixture');
  assert.deepEqual(Object.keys(FIXTURES).filter((id) => !(id in RULES)), [], 'fixtures for rules that do not exist');
});

for (const [rule, fixture] of Object.entries(FIXTURES)) {
  test(`${rule} is emitted by its fixture`, async () => {
    const rules = await emitted(fixture);
    assert.ok(rules.includes(rule), `expected ${rule}, got: ${rules.join(', ') || 'nothing'}`);
  });
}
