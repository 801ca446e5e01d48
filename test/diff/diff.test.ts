import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeProject, removeProject, routesYaml, writeProject } from '../helpers/project.js';
import { runCli } from '../helpers/gateway.js';

// `portico diff OLD NEW` on pairs of configs with known changes: breaking
// ones are marked and make the exit code 1, the others leave it 0.

const FUNCTIONS = `import { httpAction } from 'portico';\nexport const a = httpAction(async () => new Response('a'));\nexport const b = httpAction(async () => new Response('b'));\n`;
const AUTH = `auth:\n  providers:\n    - { issuer: https://auth.example.com, jwks: ./jwks.json }\ncors: { origins: ["https://one.example", "https://two.example"] }\n`;

const BASE = routesYaml(
  `  - path: /users/:id
    method: [GET, PATCH]
    handler: m:a
  - path: /notes
    method: POST
    handler: m:a
    bodyLimit: 1mb
  - path: /old
    method: GET
    handler: m:a
  - pathPrefix: /svc/
    method: GET
    proxy: { upstream: http://127.0.0.1:8081, stripPrefix: true }`,
  AUTH,
);

describe('portico diff', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);

  before(async () => {
    dir = await makeProject({ 'functions/m.ts': FUNCTIONS, 'jwks.json': '{"keys":[]}', 'old.yaml': BASE });
  });
  after(async () => {
    if (dir) await removeProject(dir);
  });

  it('reports additions and relaxations as non-breaking, exit 0', async () => {
    await writeProject(dir, {
      'new.yaml': routesYaml(
        `  - path: /users/:userId
    method: [GET, PATCH, DELETE]
    handler: m:b
  - path: /notes
    method: POST
    handler: m:a
    bodyLimit: 2mb
  - path: /old
    method: GET
    handler: m:a
  - path: /fresh
    method: GET
    handler: m:a
  - pathPrefix: /svc/
    method: GET
    proxy: { upstream: [http://127.0.0.1:8081, http://127.0.0.1:8082], stripPrefix: true }`,
        AUTH.replace('"https://two.example"]', '"https://two.example", "https://three.example"]'),
      ),
    });
    const { code, stdout, stderr } = await runCli(['diff', file('old.yaml'), file('new.yaml')]);
    assert.equal(code, 0, stdout + stderr);
    assert.doesNotMatch(stdout, /BREAKING/);
    assert.match(stdout, /added\s+GET \/fresh was added/);
    assert.match(stdout, /added\s+DELETE \/users\/:userId was added/);
    assert.match(stdout, /path parameters renamed \(\/users\/:id → \/users\/:userId\)/);
    assert.match(stdout, /POST \/notes: request body limit raised from 1048576 to 2097152/);
    assert.match(stdout, /origins added: https:\/\/three\.example/);
    assert.match(stdout, /GET \/svc\/\*: now served by proxy:http:\/\/127\.0\.0\.1:8081,http:\/\/127\.0\.0\.1:8082/);
  });

  it('marks a removed route, a dropped method, auth made required, a lowered limit and a lost origin as breaking, exit 1', async () => {
    await writeProject(dir, {
      'breaking.yaml': routesYaml(
        `  - path: /users/:id
    method: GET
    handler: m:a
    auth: required
  - path: /notes
    method: POST
    handler: m:a
    bodyLimit: 512kb
  - pathPrefix: /svc/
    method: GET
    proxy: { upstream: http://127.0.0.1:8081, stripPrefix: true }`,
        AUTH.replace(', "https://two.example"]', ']'),
      ),
    });
    const text = await runCli(['diff', file('old.yaml'), file('breaking.yaml')]);
    assert.equal(text.code, 1, text.stdout + text.stderr);
    for (const line of [
      /BREAKING\s+removed\s+GET \/old was removed/,
      /BREAKING\s+removed\s+PATCH \/users\/:id was removed/,
      /BREAKING\s+changed\s+GET \/users\/:id: auth is now required/,
      /BREAKING\s+changed\s+POST \/notes: request body limit lowered from 1048576 to 524288/,
      /BREAKING\s+changed\s+GET \/svc\/\*: origins no longer allowed: https:\/\/two\.example/,
    ]) {
      assert.match(text.stdout, line);
    }

    const json = await runCli(['diff', file('old.yaml'), file('breaking.yaml'), '--format', 'json']);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout) as { breaking: number; changes: { breaking: boolean; kind: string; subject: string; field?: string }[] };
    assert.equal(report.breaking, report.changes.filter((c) => c.breaking).length);
    assert.ok(report.changes.some((c) => c.breaking && c.field === 'auth' && c.subject === 'GET /users/:id'));

    const github = await runCli(['diff', file('old.yaml'), file('breaking.yaml'), '--format', 'github']);
    assert.equal(github.code, 1);
    assert.match(github.stdout, /^::error file=.*breaking\.yaml,title=Breaking API change::GET \/old was removed/m);
  });

  it('reads OLD from git as REV:PATH', async () => {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe' });
    git('init', '-q');
    git('-c', 'user.email=ci@example.com', '-c', 'user.name=ci', 'commit', '-q', '--allow-empty', '-m', 'empty');
    await writeProject(dir, { 'routes.yaml': BASE });
    git('add', 'routes.yaml', 'functions', 'jwks.json');
    git('-c', 'user.email=ci@example.com', '-c', 'user.name=ci', 'commit', '-q', '-m', 'routes');
    await writeProject(dir, { 'routes.yaml': BASE.replace(/  - path: \/old\n    method: GET\n    handler: m:a\n/, '') });
    const changed = await runCli(['diff', 'HEAD:routes.yaml', 'routes.yaml'], { cwd: dir });
    assert.equal(changed.code, 1, changed.stdout + changed.stderr);
    assert.match(changed.stdout, /BREAKING\s+removed\s+GET \/old was removed/);
    const same = await runCli(['diff', 'HEAD:routes.yaml', 'HEAD:routes.yaml'], { cwd: dir });
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, 'no changes\n');
    const missing = await runCli(['diff', 'HEAD~5:routes.yaml', 'routes.yaml'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /git cannot show it/);
  });
});
