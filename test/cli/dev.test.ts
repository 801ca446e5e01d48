import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { BIN, startGateway, type RunningGateway } from '../helpers/gateway.js';

// `portico dev` never misses a save, whatever the editor: every way of
// saving a file reloads, observed through the handler's answer or the
// health endpoint's codeHash. Regression: with Node's recursive fs.watch on
// Linux, once a file had been replaced by a rename (vim, JetBrains "safe
// write", git checkout), later saves of it were silently ignored.
// Also: dev stops when its terminal hangs up (SIGHUP), freeing the port.

const appModule = (answer: string) => `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response(${JSON.stringify(answer)}));
`;
const routes = routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }');

async function answer(url: string): Promise<string> {
  return (await fetch(`${url}/hello`)).text();
}
async function health(url: string): Promise<{ configHash: string; codeHash: string; pid: number }> {
  return (await fetch(`${url}/_portico/health`)).json() as Promise<{ configHash: string; codeHash: string; pid: number }>;
}
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Saves like vim's default and JetBrains' safe write: a temporary file renamed over the original. */
async function renameOver(file: string, contents: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp${Date.now()}`);
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

describe('portico dev reloads on every way of saving', () => {
  let dir: string;
  let gateway: RunningGateway;
  let file: string;
  let version = 0;
  /** Saves app.ts with a new answer (with `save`) and waits until it is served. */
  async function saveAndSee(save: (file: string, contents: string) => Promise<void>): Promise<void> {
    const expected = `v${++version}`;
    await save(file, appModule(expected));
    await waitUntil(`the answer becomes ${expected}`, async () => (await answer(gateway.url)) === expected);
  }

  before(async () => {
    dir = await makeProject({ 'routes.yaml': routes, 'functions/app.ts': appModule('v0') });
    file = path.join(dir, 'functions', 'app.ts');
    gateway = await startGateway(dir, { command: 'dev', timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    await removeProject(dir);
  });

  test('in-place writes reload', async () => {
    await saveAndSee((target, contents) => writeFile(target, contents));
    await saveAndSee((target, contents) => writeFile(target, contents));
  });

  test('rename-over (vim, JetBrains safe write) reloads, and so does every later save of the same file', async () => {
    await saveAndSee(renameOver);
    // The bug: after the first rename-over, nothing more was seen for the file.
    await saveAndSee((target, contents) => writeFile(target, contents));
    await saveAndSee(renameOver);
    await saveAndSee(renameOver);
    await saveAndSee((target, contents) => writeFile(target, contents));
  });

  test('delete-and-create reloads', async () => {
    await saveAndSee(async (target, contents) => {
      await unlink(target);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writeFile(target, contents);
    });
    await saveAndSee((target, contents) => writeFile(target, contents));
  });

  test('a new file in a new folder reloads (codeHash changes), and so do its later saves', async () => {
    const before = (await health(gateway.url)).codeHash;
    await mkdir(path.join(dir, 'functions', 'lib', 'deep'), { recursive: true });
    const extra = path.join(dir, 'functions', 'lib', 'deep', 'extra.ts');
    await writeFile(extra, 'export const n = 1;\n');
    await waitUntil('the codeHash changes', async () => (await health(gateway.url)).codeHash !== before);
    const second = (await health(gateway.url)).codeHash;
    await renameOver(extra, 'export const n = 2;\n');
    await waitUntil('the codeHash changes again', async () => (await health(gateway.url)).codeHash !== second);
    const third = (await health(gateway.url)).codeHash;
    await writeFile(extra, 'export const n = 3;\n');
    await waitUntil('the codeHash changes a third time', async () => (await health(gateway.url)).codeHash !== third);
    // Deleting the folder reloads too, back to a build without it.
    const fourth = (await health(gateway.url)).codeHash;
    await rm(path.join(dir, 'functions', 'lib'), { recursive: true });
    await waitUntil('the codeHash changes when the folder goes', async () => (await health(gateway.url)).codeHash !== fourth);
  });

  test('routes.yaml saved by rename-over reloads, twice in a row', async () => {
    const before = (await health(gateway.url)).configHash;
    await renameOver(path.join(dir, 'routes.yaml'), routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }\n  - { path: /again, method: GET, handler: "app:hello" }'));
    await waitUntil('/again is served', async () => (await fetch(`${gateway.url}/again`)).status === 200);
    assert.notEqual((await health(gateway.url)).configHash, before);
    await renameOver(path.join(dir, 'routes.yaml'), routes);
    await waitUntil('/again is gone', async () => (await fetch(`${gateway.url}/again`)).status === 404);
  });
});

describe('portico dev follows git checkout', () => {
  let dir: string;
  let gateway: RunningGateway;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'pipe', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });

  before(async () => {
    dir = await makeProject({ 'routes.yaml': routes, 'functions/app.ts': appModule('main branch'), '.gitignore': '.data/\n.portico/\n' });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'main');
    git('checkout', '-q', '-b', 'other');
    await writeFile(path.join(dir, 'functions', 'app.ts'), appModule('other branch'));
    await writeFile(path.join(dir, 'functions', 'added.ts'), 'export const only = 1;\n');
    git('add', '.');
    git('commit', '-q', '-m', 'other');
    git('checkout', '-q', 'main');
    gateway = await startGateway(dir, { command: 'dev', timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    await removeProject(dir);
  });

  test('each checkout of another branch is served, back and forth', async () => {
    assert.equal(await answer(gateway.url), 'main branch');
    for (const [branch, expected] of [['other', 'other branch'], ['main', 'main branch'], ['other', 'other branch'], ['main', 'main branch']] as const) {
      git('checkout', '-q', branch);
      await waitUntil(`${branch} is served`, async () => (await answer(gateway.url)) === expected);
    }
  });
});

describe('portico dev and its terminal', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routes, 'functions/app.ts': appModule('hi') });
  });
  after(async () => {
    await removeProject(dir);
  });

  test('dev exits 0 when its terminal hangs up (SIGHUP), and the port is free again', async () => {
    const gateway = await startGateway(dir, { command: 'dev', timeoutMs: 60_000 });
    assert.equal(await answer(gateway.url), 'hi');
    const ended = await Promise.race([gateway.stop('SIGHUP'), new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
    if (ended === 'still running') await gateway.stop('SIGKILL');
    assert.deepEqual(ended, { code: 0, signal: null });
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens on the port any more');
  });

  test('closing the terminal leaves no gateway holding the port (a real pseudo-terminal, closed)', async (t) => {
    if (!existsSync('/usr/bin/script')) {
      t.skip('SKIPPED LOUDLY: util-linux `script` is needed to give dev a real terminal');
      return;
    }
    // `script` runs dev on a pseudo-terminal; killing it closes the
    // terminal, and the kernel hangs up dev's process group, as when a
    // terminal window is closed. Regression: dev treated SIGHUP as "reload"
    // and went on serving, an orphan holding the port.
    const terminal = spawn('script', ['-qfec', `${process.execPath} ${BIN} dev --port 0`, '/dev/null'], { cwd: dir, stdio: ['pipe', 'pipe', 'ignore'] });
    let screen = '';
    terminal.stdout.setEncoding('utf8').on('data', (chunk) => (screen += chunk));
    let url = '';
    try {
      await waitUntil('dev listens on the terminal', async () => {
        url = /listening on (http:\/\/[^\s]+)/.exec(screen)?.[1] ?? '';
        return url !== '';
      }, 30_000);
      assert.equal(await answer(url), 'hi');
      await waitUntil('the pretty request line reaches the terminal', async () => /GET \/hello \S*200/.test(screen));
    } catch (error) {
      throw new Error(`${(error as Error).message}; the terminal showed:\n${screen}`);
    } finally {
      terminal.kill('SIGKILL');
    }
    await waitUntil('nothing answers on the port any more', async () => {
      try {
        await fetch(`${url}/hello`);
        return false;
      } catch {
        return true;
      }
    });
  });

  test('serve keeps SIGHUP as a reload and goes on serving', async () => {
    const gateway = await startGateway(dir, { timeoutMs: 60_000 });
    try {
      // The reload is seen where it takes effect (the handler's answer and
      // the code hash change), not through a log line.
      const { codeHash } = await health(gateway.url);
      await writeFile(path.join(dir, 'functions/app.ts'), appModule('reloaded by SIGHUP'));
      gateway.child.kill('SIGHUP');
      for (let i = 0; i < 100 && (await answer(gateway.url)) !== 'reloaded by SIGHUP'; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(gateway.child.exitCode, null);
      assert.equal(await answer(gateway.url), 'reloaded by SIGHUP');
      assert.notEqual((await health(gateway.url)).codeHash, codeHash);
    } finally {
      await writeFile(path.join(dir, 'functions/app.ts'), appModule('hi'));
      await gateway.stop();
    }
  });
});
