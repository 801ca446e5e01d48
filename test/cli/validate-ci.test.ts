import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { makeProject, removeProject } from '../helpers/project.js';
import { runCli } from '../helpers/gateway.js';

// Validating in CI without the secrets: `portico validate --env-optional`
// checks structure, handlers and lints with unset variables as unknown
// values, reported as warnings. And `${VAR:-}` that expands to an empty
// admin key means "no admin key", not an admin key with a bad shape.

const app = `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
`;
const yaml = (routes: string, api = 'adminKey: ${ADMIN_KEY}') => `version: 1
functions: ./functions
server:
  port: \${PORT}
  publicUrl: \${PUBLIC_URL}
backend: { kind: local, database: "\${DATABASE_URL}" }
storage: { kind: fs, dir: ./.data/storage }
limits: { body: "\${BODY_LIMIT}" }
api:
  ${api}
auth:
  providers:
    - issuer: \${ISSUER}
      jwks: \${JWKS_URL}
cors:
  origins: ["\${CLIENT_ORIGIN}"]
routes:
${routes}
`;
const SECRETS = ['PORT', 'PUBLIC_URL', 'DATABASE_URL', 'BODY_LIMIT', 'ADMIN_KEY', 'ISSUER', 'JWKS_URL', 'CLIENT_ORIGIN'];
const withoutSecrets = Object.fromEntries(SECRETS.map((name) => [name, undefined]));
const good = '  - { path: /hello, method: GET, handler: "app:hello" }';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeProject(dir);
});
async function project(files: Record<string, string>): Promise<string> {
  const dir = await makeProject(files);
  dirs.push(dir);
  return dir;
}

describe('portico validate --env-optional', () => {
  test('unset variables are warnings at their line; the config is valid and exits 0', async () => {
    const dir = await project({ 'routes.yaml': yaml(good), 'functions/app.ts': app });
    const strict = await runCli(['validate'], { cwd: dir, env: withoutSecrets });
    assert.equal(strict.code, 1, 'without the flag an unset variable is an error');
    assert.match(strict.stdout, /routes\.yaml:4:9: error: environment variable PORT is not set/);

    const { code, stdout } = await runCli(['validate', '--env-optional'], { cwd: dir, env: withoutSecrets });
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^routes\.yaml:4:9: warning: environment variable PORT is not set; its value is unknown to this check \[env\/unset-variable\]$/m);
    for (const name of SECRETS) assert.match(stdout, new RegExp(`warning: environment variable ${name} is not set`), name);
    assert.doesNotMatch(stdout, /error:/);
    assert.match(stdout, /routes\.yaml: OK \(1 route\), 8 warnings/);
  });

  test('structure, handler and lint errors are still errors', async () => {
    const dir = await project({
      'routes.yaml': yaml('  - { path: /hello, metod: GET, handler: "app:hello" }\n  - { path: /gone, method: GET, handler: "app:nothing" }'),
      'functions/app.ts': app,
    });
    const { code, stdout } = await runCli(['validate', '--env-optional', '--format', 'json'], { cwd: dir, env: withoutSecrets });
    assert.equal(code, 1);
    const report = JSON.parse(stdout) as { valid: boolean; diagnostics: { severity: string; rule: string; message: string }[] };
    assert.equal(report.valid, false);
    const errors = report.diagnostics.filter((d) => d.severity === 'error');
    assert.ok(errors.some((d) => /metod/.test(d.message)), JSON.stringify(errors));
    assert.ok(errors.some((d) => d.rule === 'handler/missing-export'), JSON.stringify(errors));
    assert.ok(report.diagnostics.filter((d) => d.rule === 'env/unset-variable').every((d) => d.severity === 'warning'));
  });

  test('--format github annotates unset variables as warnings', async () => {
    const dir = await project({ 'routes.yaml': yaml(good), 'functions/app.ts': app });
    const { code, stdout } = await runCli(['validate', '--env-optional', '--format', 'github'], { cwd: dir, env: withoutSecrets });
    assert.equal(code, 0);
    assert.match(stdout, /^::warning file=routes\.yaml,line=4,col=9[^:]*::.*PORT is not set/m);
  });
});

describe('an admin key from ${VAR:-}', () => {
  test('an empty expansion means no admin key: valid, and the function API takes tokens only', async () => {
    const dir = await project({ 'routes.yaml': yaml(good, 'adminKey: ${PORTICO_ADMIN_KEY:-}'), 'functions/app.ts': app });
    const env = { PORT: '3000', PUBLIC_URL: 'http://localhost:3000', DATABASE_URL: './.data/db.sqlite', BODY_LIMIT: '1mb', ISSUER: 'https://issuer.example', JWKS_URL: 'https://issuer.example/jwks.json', CLIENT_ORIGIN: 'http://localhost:5173' };
    for (const adminKey of [undefined, '']) {
      const { code, stdout } = await runCli(['validate'], { cwd: dir, env: { ...env, PORTICO_ADMIN_KEY: adminKey } });
      assert.equal(code, 0, stdout);
      assert.doesNotMatch(stdout, /spaces|colons/);
      const table = await runCli(['routes'], { cwd: dir, env: { ...env, PORTICO_ADMIN_KEY: adminKey } });
      assert.match(table.stdout, /\(function API\) +any origin +token\b/);
    }
    const set = await runCli(['routes'], { cwd: dir, env: { ...env, PORTICO_ADMIN_KEY: 'a-long-admin-key' } });
    assert.match(set.stdout, /token or admin key/);
  });
});
