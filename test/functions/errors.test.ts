import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';

// Errors that point at the cause. An unknown function name keeps Convex's
// message and adds the nearest name ("did you mean"); an internal function
// called publicly says it is internal; `portico run`, which runs as an
// admin, does not speak of "public" functions. A module importing a
// package that is not installed is reported at the import's own line,
// naming the package and the command that installs it, and the summary
// never says OK for a config whose modules failed.

const app = `
import { httpAction, query, internalQuery } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
export const list = query({ args: {}, handler: async () => ['a'] });
export const secret = internalQuery({ args: {}, handler: async () => 'internal answer' });
`;

async function apiQuery(gateway: RunningGateway, path: string): Promise<{ status: string; errorMessage?: string }> {
  const response = await fetch(`${gateway.url}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path, args: {}, format: 'json' }) });
  return response.json() as Promise<{ status: string; errorMessage?: string }>;
}

describe('unknown and internal function names', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }'), 'functions/app.ts': app });
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('on /api a misspelt name keeps Convex\'s message and adds the nearest public name', async () => {
    const answer = await apiQuery(gateway, 'app:lst');
    assert.equal(answer.status, 'error');
    assert.equal(answer.errorMessage, "Could not find public function for 'app:lst'. Did you mean 'app:list'?");
    const module = await apiQuery(gateway, 'ap:list');
    assert.equal(module.errorMessage, "Could not find public function for 'ap:list'. Did you mean 'app:list'?");
  });

  test('on /api an internal function called publicly is said to be internal; internal names are never suggested publicly', async () => {
    const answer = await apiQuery(gateway, 'app:secret');
    assert.match(answer.errorMessage!, /^Could not find public function for 'app:secret'\. 'app:secret' is an internal function: /);
    assert.match(answer.errorMessage!, /admin key/);
    const near = await apiQuery(gateway, 'app:secre');
    assert.doesNotMatch(near.errorMessage!, /app:secret'/);
    assert.match(near.errorMessage!, /^Could not find public function for 'app:secre'\./);
  });

  test('portico run, as an admin, suggests any function and never says "public"', async () => {
    const typo = await runCli(['run', 'app:lst'], { cwd: dir });
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /^Could not find function for 'app:lst'\. Did you mean 'app:list'\?$/m);
    const internalTypo = await runCli(['run', 'app:secre'], { cwd: dir });
    assert.match(internalTypo.stderr, /Did you mean 'app:secret'\?/);
    for (const output of [typo.stderr, internalTypo.stderr]) assert.doesNotMatch(output, /public/);
    const ran = await runCli(['run', 'app:secret'], { cwd: dir });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout), 'internal answer');
  });
});

describe('a module importing a package that is not installed', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({
      'routes.yaml': routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }'),
      'functions/app.ts': `import { httpAction } from 'portico';
import { pad } from './lib/pad';
export const hello = httpAction(async () => new Response(pad('hello')));
`,
      'functions/lib/pad.ts': `// Pads with a package nobody installed.
import leftPad from 'left-pad-not-installed-anywhere';
export const pad = (text: string) => leftPad(text, 10);
`,
    });
  });
  after(async () => {
    await removeProject(dir);
  });

  test('validate reports it once, at the import in the file that has it, with the install command; the summary is not OK', async () => {
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 1);
    const problems = stdout.split('\n').filter((line) => /: error: /.test(line));
    assert.deepEqual(problems, [
      'functions/lib/pad.ts:2:21: error: package "left-pad-not-installed-anywhere" is imported but not installed; install it in the project: npm install left-pad-not-installed-anywhere [functions/load]',
    ]);
    assert.doesNotMatch(stdout, /routes\.yaml: OK/);
    assert.match(stdout, /^routes\.yaml: not valid: the function modules it names have errors \(above\)$/m);
    assert.doesNotMatch(stdout, /\.portico\/build/);

    const json = JSON.parse((await runCli(['validate', '--format', 'json'], { cwd: dir })).stdout) as { valid: boolean; files: { file: string; valid: boolean }[] };
    assert.equal(json.valid, false);
    assert.equal(json.files.find((file) => file.file === 'routes.yaml')!.valid, false);
  });

  test('serve refuses to start with the same report', async () => {
    const { code, stderr } = await runCli(['serve', '--port', '0'], { cwd: dir });
    assert.equal(code, 1);
    assert.match(stderr, /functions\/lib\/pad\.ts:2:21: error: package "left-pad-not-installed-anywhere" is imported but not installed/);
    assert.doesNotMatch(stderr, /routes\.yaml: OK/);
    assert.match(stderr, /not starting/);
  });
});
