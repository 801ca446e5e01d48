import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { BIN, runCli } from '../helpers/gateway.js';

// The log as a person reads it (--log-format pretty, or logging.format:
// pretty, or auto on a terminal): one line per request,
// `12:01:02 GET /hello 200 1.2ms logs:hello 3802bffc…`, coloured by status,
// the lines a request's code logged indented under it, a failure's stack
// printed once. JSON stays the default off a terminal, unchanged.

const functions = {
  'functions/logs.ts': `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
export const chatty = httpAction(async () => {
  console.log('first line of chatty');
  await new Promise((resolve) => setTimeout(resolve, 20));
  console.warn('second line of chatty');
  return new Response('chatty');
});
export const boom = httpAction(async () => { throw new Error('boom in the handler'); });
`,
};
const routes = `
  - { path: /hello, method: GET, handler: "logs:hello" }
  - { path: /chatty, method: GET, handler: "logs:chatty" }
  - { path: /boom, method: GET, handler: "logs:boom" }
`;

interface Served {
  url: string;
  stdout(): string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `portico serve` with stdout piped (not a terminal), its output kept raw. */
async function serve(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'test', FORCE_COLOR: undefined, NO_COLOR: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${stderr}`)), 30_000);
    child.stderr!.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) (clearTimeout(timer), resolve(match[1]!));
    });
    child.once('exit', () => reject(new Error(`exited:\n${stderr}`)));
  });
  return { url, child, stdout: () => stdout, stop: async () => (child.kill('SIGTERM'), await exited) };
}

async function waitFor(served: Served, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pattern.test(served.stdout())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in stdout:\n${served.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('pretty logs', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
  });
  after(async () => {
    await removeProject(dir);
  });

  test('--log-format pretty: one line per request, with time, method, path, status, duration, handler and a short request id', async () => {
    const served = await serve(dir, ['--log-format', 'pretty']);
    try {
      const response = await fetch(`${served.url}/hello?q=1`);
      const id = response.headers.get('x-request-id')!;
      await response.text();
      await waitFor(served, new RegExp(escape(id.slice(0, 8))));
      const line = served.stdout().split('\n').find((text) => text.includes(id.slice(0, 8)))!;
      assert.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d GET /hello 200 \\d+\\.\\dms logs:hello ${escape(id.slice(0, 8))}…$`));
      assert.ok(!served.stdout().split('\n').some((text) => text.trimStart().startsWith('{')), 'no JSON line');
      assert.ok(!served.stdout().includes('\u001b['), 'no colour off a terminal');
    } finally {
      await served.stop();
    }
  });

  test("a request's console lines are indented under its request line; a failure's stack is printed once", async () => {
    const served = await serve(dir, ['--log-format', 'pretty']);
    try {
      const chatty = await fetch(`${served.url}/chatty`);
      const chattyId = chatty.headers.get('x-request-id')!.slice(0, 8);
      await chatty.text();
      const boom = await fetch(`${served.url}/boom`);
      const boomId = boom.headers.get('x-request-id')!.slice(0, 8);
      assert.equal(boom.status, 500);
      await waitFor(served, new RegExp(`${escape(boomId)}[\\s\\S]*at `));
      const lines = served.stdout().split('\n');

      const request = lines.findIndex((text) => text.includes(` /chatty 200 `) && text.includes(chattyId));
      assert.ok(request >= 0, served.stdout());
      assert.match(lines[request + 1]!, /^ {4}LOG first line of chatty$/);
      assert.match(lines[request + 2]!, /^ {4}WARN second line of chatty$/);

      const failed = lines.findIndex((text) => text.includes(` /boom 500 `) && text.includes(boomId));
      assert.ok(failed >= 0, served.stdout());
      assert.match(lines[failed + 1]!, /^ {4}ERROR handler failed/);
      assert.match(lines[failed + 2]!, /^ {6}Error: boom in the handler$/);
      assert.match(lines[failed + 3]!, /^ {6}\s*at .*functions\/logs\.ts:\d+:\d+/, 'the stack points at the user file');
      assert.equal(served.stdout().split('boom in the handler').length - 1, 1, 'the error and its stack are printed once');
    } finally {
      await served.stop();
    }
  });

  test('colours follow the status when colour is wanted (FORCE_COLOR)', async () => {
    const served = await serve(dir, ['--log-format', 'pretty'], { FORCE_COLOR: '1' });
    try {
      await (await fetch(`${served.url}/hello`)).text();
      await (await fetch(`${served.url}/boom`)).text();
      await (await fetch(`${served.url}/missing`)).text();
      await waitFor(served, /\/missing/);
      await waitFor(served, /\/boom/);
      assert.match(served.stdout(), /GET \/hello \u001b\[32m200\u001b\[0m/);
      assert.match(served.stdout(), /GET \/missing \u001b\[33m404\u001b\[0m/);
      assert.match(served.stdout(), /GET \/boom \u001b\[31m500\u001b\[0m/);
    } finally {
      await served.stop();
    }
  });

  test('logging.format: pretty in routes.yaml prints pretty lines; --log-format json overrides it with unchanged JSON lines', async () => {
    const prettyDir = await makeProject({ 'routes.yaml': routesYaml(routes, 'logging: { format: pretty }'), ...functions });
    try {
      const pretty = await serve(prettyDir, []);
      try {
        await (await fetch(`${pretty.url}/hello`)).text();
        await waitFor(pretty, /GET \/hello 200/);
      } finally {
        await pretty.stop();
      }
      const json = await serve(prettyDir, ['--log-format', 'json']);
      try {
        await (await fetch(`${json.url}/hello`)).text();
        await waitFor(json, /"msg":"request"/);
        const line = JSON.parse(json.stdout().split('\n').find((text) => text.includes('"msg":"request"'))!);
        const keys = Object.keys(line);
        const expected = ['level', 'time', 'pid', 'reqId', 'method', 'path', 'route', 'handler', 'status', 'ms', 'msg'];
        assert.deepEqual(keys.filter((key) => expected.includes(key)), expected, 'the JSON request line keeps its fields, in order');
        assert.equal(keys[keys.length - 1], 'msg');
        assert.equal(line.path, '/hello');
      } finally {
        await json.stop();
      }
    } finally {
      await removeProject(prettyDir);
    }
  });

  test('off a terminal the default stays JSON lines', async () => {
    const served = await serve(dir, []);
    try {
      await (await fetch(`${served.url}/hello`)).text();
      await waitFor(served, /"msg":"request"/);
      for (const text of served.stdout().split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(text), text);
    } finally {
      await served.stop();
    }
  });

  test('an unknown --log-format is a usage error with the nearest format', async () => {
    const { code, stderr } = await runCli(['serve', path.join(dir, 'routes.yaml'), '--log-format', 'prety'], { cwd: dir });
    assert.equal(code, 2);
    assert.match(stderr, /--log-format must be auto, json or pretty, got "prety" \(did you mean pretty\?\)/);
  });
});
