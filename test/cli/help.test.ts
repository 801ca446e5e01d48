import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { BIN, runCli } from '../helpers/gateway.js';
import type { Command } from '../../src/cli/command.js';
import { dev } from '../../src/cli/commands/dev.js';
import { init } from '../../src/cli/commands/init.js';
import { routes } from '../../src/cli/commands/routes.js';
import { run } from '../../src/cli/commands/run.js';
import { serve } from '../../src/cli/commands/serve.js';
import { validate } from '../../src/cli/commands/validate.js';

// The CLI's shape as a new user meets it: --help of every command lists
// every option with its default, the environment it reads and the exit
// codes; an unknown command or option suggests the nearest one; serve and
// dev take the config as an argument as validate does; routes prints text
// or JSON; a folder without routes.yaml says how to start a project.

const COMMANDS: Command[] = [init, dev, serve, validate, routes, run];
const app = `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
`;

let dir: string;
before(async () => {
  dir = await makeProject({ 'routes.yaml': routesYaml('  - { path: /hello, method: GET, handler: "app:hello" }'), 'functions/app.ts': app });
});
after(async () => {
  await removeProject(dir);
});

describe('portico --help', () => {
  test('lists every command, the environment variables read and the exit codes', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    for (const command of COMMANDS) assert.match(stdout, new RegExp(`^  ${command.name} +\\S`, 'm'), command.name);
    for (const variable of ['PORT', 'NODE_ENV', '.env']) assert.match(stdout, new RegExp(`^  ${variable.replace('.', '\\.')} `, 'm'), variable);
    assert.match(stdout, /exit codes:\n {2}0 +success\n {2}1 +failure[^\n]*\n {2}2 +usage error/);
  });

  for (const command of COMMANDS) {
    test(`portico ${command.name} --help lists every option with its default, the environment and the exit codes`, async () => {
      const { code, stdout } = await runCli([command.name, '--help']);
      assert.equal(code, 0);
      assert.match(stdout, new RegExp(`^usage: portico ${command.name}`));
      for (const option of command.options) {
        const line = stdout.split('\n').find((text) => text.includes(`--${option.name}`));
        assert.ok(line, `--${option.name} is listed:\n${stdout}`);
        if (option.default !== undefined) assert.ok(line.includes(`(default: ${option.default})`), `--${option.name} shows its default: ${line}`);
      }
      assert.match(stdout, /environment:\n/);
      if (command.name !== 'init') for (const variable of ['PORT', 'NODE_ENV', '.env']) assert.ok(stdout.includes(`  ${variable} `), variable);
      assert.match(stdout, /exit codes:\n {2}0 +success/);
      assert.match(stdout, / {2}2 +usage error/);
    });
  }

  test('serve and dev --help document the signals: SIGHUP reloads serve and stops dev', async () => {
    assert.match((await runCli(['serve', '--help'])).stdout, /SIGHUP reloads/);
    assert.match((await runCli(['dev', '--help'])).stdout, /SIGHUP \(the terminal closing\) stop/);
  });

  test('`portico help serve` is `portico serve --help`', async () => {
    assert.equal((await runCli(['help', 'serve'])).stdout, (await runCli(['serve', '--help'])).stdout);
  });
});

describe('mistakes get the nearest suggestion', () => {
  test('an unknown command suggests the nearest one and exits 2', async () => {
    const { code, stderr } = await runCli(['serv']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "serv" \(did you mean "serve"\?\)/);
    assert.match((await runCli(['valdiate'])).stderr, /did you mean "validate"\?/);
  });

  test('an unknown option suggests the nearest one and exits 2', async () => {
    const serveTypo = await runCli(['serve', '--prot', '3000'], { cwd: dir });
    assert.equal(serveTypo.code, 2, serveTypo.stderr);
    assert.match(serveTypo.stderr, /portico serve: unknown option --prot \(did you mean --port\?\)/);
    const validateTypo = await runCli(['validate', '--fromat', 'json'], { cwd: dir });
    assert.equal(validateTypo.code, 2, validateTypo.stderr);
    assert.match(validateTypo.stderr, /unknown option --fromat \(did you mean --format\?\)/);
    assert.match((await runCli(['routes', '--confg', 'x.yaml'], { cwd: dir })).stderr, /did you mean --config\?/);
  });
});

describe('the config file as an argument', () => {
  for (const name of ['serve', 'dev'] as const) {
    test(`portico ${name} FILE serves that config`, async () => {
      const child = spawn(process.execPath, [BIN, name, path.join(dir, 'routes.yaml'), '--port', '0'], { cwd: '/', stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`did not start:\n${stderr}`)), 30_000);
          child.stderr.on('data', () => {
            const match = /listening on (http:\/\/\S+)/.exec(stderr);
            if (match) (clearTimeout(timer), resolve(match[1]!));
          });
          void exited.then(() => reject(new Error(`exited:\n${stderr}`)));
        });
        assert.equal(await (await fetch(`${url}/hello`)).text(), 'hello');
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
    });
  }

  test('a config given both ways is a usage error', async () => {
    const { code, stderr } = await runCli(['routes', 'a.yaml', '-c', 'b.yaml'], { cwd: dir });
    assert.equal(code, 2);
    assert.match(stderr, /give the config file once/);
  });
});

describe('portico routes --format', () => {
  test('text prints the aligned table; json prints one object per row', async () => {
    const text = await runCli(['routes', '--format', 'text'], { cwd: dir });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^METHOD +PATH +HANDLER +CORS +AUTH +POLICIES\nGET +\/hello +app:hello/);
    const json = await runCli(['routes', 'routes.yaml', '--format', 'json'], { cwd: dir });
    assert.equal(json.code, 0, json.stderr);
    const rows = JSON.parse(json.stdout) as { method: string; path: string; handler: string }[];
    assert.deepEqual(rows[0], { method: 'GET', path: '/hello', handler: 'app:hello', cors: '-', auth: 'optional', policies: '-' });
    assert.ok(rows.some((row) => row.path === '/_portico/health'));
    const bad = await runCli(['routes', '--format', 'yaml'], { cwd: dir });
    assert.equal(bad.code, 2);
  });
});

describe('a folder without routes.yaml', () => {
  test('validate, serve and routes say how to start a project', async () => {
    const empty = await makeProject({});
    try {
      for (const command of ['validate', 'serve', 'routes']) {
        const { code, stderr } = await runCli([command], { cwd: empty });
        assert.equal(code, 1, command);
        assert.match(stderr, /no routes\.yaml here/, command);
        assert.match(stderr, /npx portico init/, command);
      }
    } finally {
      await removeProject(empty);
    }
  });
});
