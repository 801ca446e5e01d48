import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../helpers/http.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type LogLine, type RunningGateway } from '../helpers/gateway.js';

// The live version: /_portico/health reports the config hash and a code
// hash (every source file the build read), the same for the same files in
// any folder, on any port or host; a reload that changes only code changes
// only the code hash, and the `reloaded` log line says what changed.

const app = (answer: string) => `
import { httpAction } from 'portico';
import { greeting } from './lib';
export const hello = httpAction(async () => new Response(greeting + ${JSON.stringify(answer)}));
export const other = httpAction(async () => new Response('other'));
`;
const files = (answer = 'v1') => ({
  'routes.yaml': routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }\n  - { path: /gone, method: GET, handler: "app:other" }'),
  'functions/app.ts': app(answer),
  'functions/lib.ts': "export const greeting = 'hello ';\n",
});

interface Health {
  configHash: string;
  codeHash: string;
}
const health = async (gateway: RunningGateway): Promise<Health> => (await fetch(`${gateway.url}/_portico/health`)).json() as Promise<Health>;
const reloaded = (line: LogLine) => line.event === 'reloaded';

const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});
async function started(dir: string, options: Parameters<typeof startGateway>[1] = {}): Promise<RunningGateway> {
  const gateway = await startGateway(dir, { timeoutMs: 60_000, ...options });
  cleanup.push(() => gateway.stop('SIGKILL'));
  return gateway;
}
async function project(answer?: string): Promise<string> {
  const dir = await makeProject(files(answer));
  cleanup.push(() => removeProject(dir));
  return dir;
}

/** Rewrites a file and sends SIGHUP; resolves with the `reloaded` line. */
async function reloadAfter(gateway: RunningGateway, change: () => Promise<void>): Promise<LogLine> {
  const count = gateway.logs().filter(reloaded).length;
  await change();
  gateway.child.kill('SIGHUP');
  const deadline = Date.now() + 15_000;
  for (;;) {
    const lines = gateway.logs().filter(reloaded);
    if (lines.length > count) return lines[lines.length - 1]!;
    if (Date.now() > deadline) throw new Error(`no reloaded line; stderr:\n${gateway.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the live version', () => {
  test('the same routes.yaml and functions give the same config and code hashes in another folder, on another port and host', async () => {
    const first = await started(await project(), { port: await freePort() });
    const second = await started(await project(), { port: await freePort(), args: ['--host', '0.0.0.0'] });
    assert.notEqual(first.port, second.port);
    const [a, b] = [await health(first), await health(second)];
    assert.match(a.codeHash, /^[0-9a-f]{64}$/);
    assert.equal(a.configHash, b.configHash);
    assert.equal(a.codeHash, b.codeHash);
    // Different code, different hash.
    const third = await started(await project('v2'));
    assert.notEqual((await health(third)).codeHash, a.codeHash);
    assert.equal((await health(third)).configHash, a.configHash);
  });

  test('a code-only reload changes the code hash, not the config hash, and the reloaded line names the changed module', async () => {
    const dir = await project();
    const gateway = await started(dir);
    const before = await health(gateway);
    const line = await reloadAfter(gateway, () => writeFile(path.join(dir, 'functions', 'app.ts'), app('v2')));
    const after = await health(gateway);
    assert.notEqual(after.codeHash, before.codeHash);
    assert.equal(after.configHash, before.configHash);
    assert.equal(line.codeHash, after.codeHash);
    assert.equal(line.changed, true);
    assert.deepEqual((line.changes as { modules: string[] }).modules, ['app.ts']);
    assert.match(line.msg, /^reloaded: modules changed: app\.ts$/);

    // A change in a file the modules import counts as code too.
    const shared = await reloadAfter(gateway, () => writeFile(path.join(dir, 'functions', 'lib.ts'), "export const greeting = 'hi ';\n"));
    assert.match(shared.msg, /modules changed: lib\.ts/);
    assert.notEqual((await health(gateway)).codeHash, after.codeHash);
    assert.equal(await (await fetch(`${gateway.url}/hello`)).text(), 'hi v2');

    // Nothing changed: said so.
    const same = await reloadAfter(gateway, async () => {});
    assert.equal(same.msg, 'reloaded: no change');
    assert.equal(same.changed, false);
  });

  test('the reloaded line lists routes added, removed and changed', async () => {
    const dir = await project();
    const gateway = await started(dir);
    const line = await reloadAfter(gateway, () =>
      writeFile(
        path.join(dir, 'routes.yaml'),
        routesYaml('  - { path: /hello, method: GET, handler: "app:other" }\n  - { path: /new, method: [GET, POST], handler: "app:hello" }', 'limits: { body: 1mb }'),
      ),
    );
    assert.deepEqual(line.changes, { routes: { added: ['GET,POST /new'], removed: ['GET /gone'], changed: ['GET /hello'] }, modules: [], settings: ['limits'] });
    assert.equal(line.msg, 'reloaded: routes +GET,POST /new, -GET /gone, ~GET /hello; settings changed: limits');
  });
});
