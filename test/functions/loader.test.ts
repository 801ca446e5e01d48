import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModules } from '../../src/functions/loader.js';
import { FunctionNameError, parseFunctionName } from '../../src/functions/names.js';
import { api, functionNameOf, internal, makeFunctionReference } from '../../src/functions/references.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, writeProject } from '../helpers/project.js';

// Function modules: .ts and .js load with no build step, build errors and
// runtime errors point at the user's TypeScript lines, and names follow
// Convex's rules.

const ROUTES = `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
routes:
  - { path: /boom, method: GET, handler: "thrower:boomAction" }
`;

// The line numbers below are asserted; keep the `throw` lines where they are.
const THROWER = `import { httpAction, query } from 'portico';

type Shape = { size: number };

export const boom = query(async (): Promise<Shape> => {
  const shape: Shape = { size: 1 };
  if (shape.size > 0) throw new Error('thrown from TypeScript');
  return shape;
});

export const boomAction = httpAction(async () => {
  throw new Error('thrown from an HTTP action');
});
`;

const post = (url: string, path: string, body: unknown) => fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('function modules', () => {
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    dir = await makeProject({
      'routes.yaml': ROUTES,
      'functions/thrower.ts': THROWER,
      'functions/typed.ts': `
import { query, v, type Infer } from 'portico';
const point = v.object({ x: v.number(), y: v.number() });
type Point = Infer<typeof point>;
enum Axis { X = 'x', Y = 'y' }
const pick = (p: Point, axis: Axis): number => (axis === Axis.X ? p.x : p.y);
export const sum = query({ args: { p: point }, handler: async (_ctx, { p }) => pick(p, Axis.X) + pick(p, Axis.Y) });
`,
      'functions/plain.js': `
import { query, mutation } from 'portico';
export const hello = query(async (_ctx, { name }) => \`hello \${name}\`);
export default mutation(async (ctx) => ctx.db.insert('js', { from: 'plain.js' }));
`,
      'functions/esm.mjs': `
import { query } from 'portico';
export const fromMjs = query(async () => 'mjs');
`,
      'functions/dir/sub/file.ts': `
import { query } from 'portico';
export const fn = query(async () => 'deep');
export default query(async () => 'deep default');
`,
      'functions/lib/helpers.ts': `
export const shout = (text: string): string => text.toUpperCase() + '!';
`,
      'functions/uses.ts': `
import { query } from 'portico';
import { shout } from './lib/helpers';
import { createHash } from 'node:crypto';
export const shouted = query(async (_ctx, { text }: { text: string }) => ({ shout: shout(text), hash: createHash('sha1').update(text).digest('hex').slice(0, 8) }));
`,
      'functions/_private.ts': `export const skipped = 1;`,
      'functions/thing.test.ts': `throw new Error('test files are not function modules');`,
      'functions/types.d.ts': `declare const nothing: number;`,
    });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('.ts, .js and .mjs modules load without a build step, with their relative and node: imports', async () => {
    assert.deepEqual(await (await post(gateway.url, '/api/query', { path: 'typed:sum', args: { p: { x: 2, y: 3 } } })).json(), { status: 'success', value: 5 });
    assert.deepEqual(await (await post(gateway.url, '/api/query', { path: 'plain:hello', args: { name: 'js' } })).json(), { status: 'success', value: 'hello js' });
    const inserted = await (await post(gateway.url, '/api/mutation', { path: 'plain', args: {} })).json();
    assert.equal(inserted.status, 'success');
    assert.deepEqual(await (await post(gateway.url, '/api/query', { path: 'esm:fromMjs', args: {} })).json(), { status: 'success', value: 'mjs' });
    const uses = await (await post(gateway.url, '/api/query', { path: 'uses:shouted', args: { text: 'hi' } })).json();
    assert.deepEqual(uses.value, { shout: 'HI!', hash: 'c22b5f91' });
  });

  test('names follow Convex: "module:fn", "module" for the default export, "dir/file:fn" for a nested module', async () => {
    const value = async (name: string) => (await (await post(gateway.url, '/api/query', { path: name, args: {} })).json()).value;
    assert.equal(await value('dir/sub/file:fn'), 'deep');
    assert.equal(await value('dir/sub/file'), 'deep default');
    assert.equal(await value('dir/sub/file:default'), 'deep default');
    assert.equal(await value('dir/sub/file.js:fn'), 'deep');
    // Helper modules, files starting with _ or ., tests and declarations are not functions.
    for (const name of ['lib/helpers:shout', '_private:skipped', 'thing.test:x', 'types.d']) {
      const body = await (await post(gateway.url, '/api/query', { path: name, args: {} })).json();
      assert.equal(body.status, 'error', name);
      assert.match(body.errorMessage, /Could not find public function/, name);
    }
  });

  test("a handler's runtime error has a stack pointing at the user's .ts file and line", async () => {
    const body = await (await post(gateway.url, '/api/query', { path: 'thrower:boom', args: {} })).json();
    assert.equal(body.status, 'error');
    assert.match(body.errorMessage, /Uncaught Error: thrown from TypeScript/);
    const throwLine = THROWER.split('\n').findIndex((line) => line.includes("throw new Error('thrown from TypeScript')")) + 1;
    const frame = /\((\/[^()]+\/functions\/thrower\.ts):(\d+):(\d+)\)|at (\/[^\s]+\/functions\/thrower\.ts):(\d+):(\d+)/.exec(body.errorMessage);
    assert.ok(frame, `a frame in functions/thrower.ts:\n${body.errorMessage}`);
    assert.equal(frame[1] ?? frame[4], path.join(dir, 'functions', 'thrower.ts'));
    assert.equal(Number(frame[2] ?? frame[5]), throwLine);
    assert.ok(!/\.portico\/build|\.mjs:/.test(body.errorMessage), 'no frame of the generated bundle');

    const response = await fetch(gateway.url + '/boom');
    assert.equal(response.status, 500);
    const failure = await response.json();
    const actionLine = THROWER.split('\n').findIndex((line) => line.includes('thrown from an HTTP action')) + 1;
    assert.match(failure.trace, new RegExp(`functions/thrower\\.ts:${actionLine}:\\d+`));
  });
});

describe('module errors', () => {
  test('a TypeScript syntax error is reported by `portico validate` at FILE:LINE:COL [functions/load]', async () => {
    const source = `import { query } from 'portico';\n\nexport const ok = query(async () => 1);\nexport const bad = query(async () => { return 1 +; });\n`;
    const dir = await makeProject({ 'routes.yaml': 'version: 1\nfunctions: ./functions\nroutes: []\n', 'functions/broken.ts': source });
    try {
      const result = await runCli(['validate', '-c', 'routes.yaml'], { cwd: dir });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const line = 4;
      const column = source.split('\n')[line - 1]!.indexOf('1 +;') + 4;
      assert.match(result.stdout + result.stderr, new RegExp(`functions/broken\\.ts:${line}:${column}: error: Unexpected ";" \\[functions/load\\]`));
      const json = JSON.parse((await runCli(['validate', '-c', 'routes.yaml', '--format', 'json'], { cwd: dir })).stdout);
      assert.deepEqual(
        json.diagnostics.map((d: { file: string; line: number; column: number; rule: string }) => [d.file, d.line, d.column, d.rule]),
        [['functions/broken.ts', line, column, 'functions/load']],
      );
    } finally {
      await removeProject(dir);
    }
  });

  test('a module that throws while loading is reported at its own line', async () => {
    const dir = await makeProject({
      'routes.yaml': 'version: 1\nfunctions: ./functions\nroutes: []\n',
      'functions/fine.ts': `import { query } from 'portico';\nexport const ok = query(async () => 1);\n`,
      'functions/explodes.ts': `import { query } from 'portico';\n\nconst config: { key?: string } = {};\nif (!config.key) throw new Error('missing key at load');\nexport const q = query(async () => config.key);\n`,
    });
    try {
      const result = await runCli(['validate', '-c', 'routes.yaml'], { cwd: dir });
      assert.equal(result.code, 1);
      assert.match(result.stdout + result.stderr, /functions\/explodes\.ts:4:\d+: error: Uncaught Error: missing key at load \[functions\/load\]\n/);
    } finally {
      await removeProject(dir);
    }
  });

  test('two files defining the same module are a problem of that module; the others still load', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-loader-'));
    try {
      await writeProject(dir, {
        'functions/same.ts': 'export const a = 1;',
        'functions/same.js': 'export const b = 2;',
        'functions/fine.ts': "import { query } from 'portico';\nexport const ok = query(async () => 1);\n",
      });
      const loaded = await loadModules(path.join(dir, 'functions'), path.join(dir, '.portico', 'build'));
      assert.match(loaded.problems.get('same')![0]!.message, /module "same" is also defined by same\.(js|ts)/);
      assert.deepEqual([...loaded.functions.keys()], ['fine:ok']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a syntax error in one module leaves the others loaded, and a broken shared file fails only its importers', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-loader-'));
    try {
      await writeProject(dir, {
        'functions/broken.ts': 'export const a: number = ;\n',
        'functions/fine.ts': "import { query } from 'portico';\nexport const ok = query(async () => 1);\n",
        'functions/usesShared.ts': "import { value } from '../shared/util';\nimport { query } from 'portico';\nexport const q = query(async () => value);\n",
        'shared/util.ts': 'export const value = (;\n',
      });
      const loaded = await loadModules(path.join(dir, 'functions'), path.join(dir, '.portico', 'build'));
      assert.deepEqual([...loaded.problems.keys()].sort(), ['broken', 'usesShared']);
      assert.equal(loaded.problems.get('broken')![0]!.line, 1);
      assert.match(loaded.problems.get('usesShared')![0]!.file, /shared\/util\.ts$/);
      assert.deepEqual([...loaded.functions.keys()], ['fine:ok']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('outside the repository', () => {
  test("`import ... from 'portico'` resolves to the running Portico from a project anywhere", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-outside-'));
    try {
      await writeProject(dir, {
        'functions/outside.ts': `import { query, v, ConvexError } from 'portico';\nexport const q = query({ args: { n: v.int64() }, handler: async (_ctx, { n }) => n + 1n });\nexport const e = query(async () => { throw new ConvexError({ from: 'outside' }); });\n`,
      });
      const loaded = await loadModules(path.join(dir, 'functions'), path.join(dir, '.portico', 'build'));
      assert.deepEqual([...loaded.functions.keys()].sort(), ['outside:e', 'outside:q']);
      assert.equal(loaded.functions.get('outside:q')!.kind, 'query');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

});

describe('portico run', () => {
  test('`portico run NAME ARGS_JSON` prints the result and the function\'s console output', async () => {
    const dir = await makeProject({
      'routes.yaml': 'version: 1\nfunctions: ./functions\nbackend: { kind: local, database: ./.data/db.sqlite }\nroutes: []\n',
      'functions/cli.ts': `import { mutation, internalQuery, v } from 'portico';\nexport const add = mutation({ args: { a: v.int64(), b: v.int64() }, handler: async (_ctx, { a, b }) => { console.log('adding', a, b); return a + b; } });\nexport const hidden = internalQuery(async () => 'internal ok');\n`,
    });
    try {
      const result = await runCli(['run', 'cli:add', '{"a": {"$integer": "AgAAAAAAAAA="}, "b": {"$integer": "AwAAAAAAAAA="}}', '-c', 'routes.yaml'], { cwd: dir });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(JSON.parse(result.stdout), '5');
      assert.match(result.stderr, /\[LOG\] 'adding' 2n 3n/);
      const hidden = await runCli(['run', 'cli:hidden', '-c', 'routes.yaml'], { cwd: dir });
      assert.equal(hidden.code, 0, hidden.stderr);
      assert.equal(JSON.parse(hidden.stdout), 'internal ok');
    } finally {
      await removeProject(dir);
    }
  });
});

describe('function names', () => {
  test('api and internal references name functions as Convex does', () => {
    assert.equal(functionNameOf(api.messages!.list), 'messages:list');
    assert.equal(functionNameOf(api.messages!.default), 'messages');
    assert.equal(functionNameOf(api.dir!.file!.fn), 'dir/file:fn');
    assert.equal(functionNameOf(internal.admin!.reset), 'admin:reset');
    assert.equal(functionNameOf(makeFunctionReference('dir/file')), 'dir/file');
    assert.equal(functionNameOf('messages.js:list'), 'messages:list');
    assert.throws(() => functionNameOf(api.messages), /API path is expected to be of the form `api.moduleName.functionName`. Found: `api.messages`/);
    assert.throws(() => functionNameOf(42), /Expected a function reference/);
  });

  test('parsing splits at the last colon, strips .js, refuses other extensions and absolute paths', () => {
    assert.deepEqual(parseFunctionName('a/b:c'), { module: 'a/b', exportName: 'c', canonical: 'a/b:c' });
    assert.deepEqual(parseFunctionName('a/b'), { module: 'a/b', exportName: 'default', canonical: 'a/b' });
    assert.deepEqual(parseFunctionName('a/b.js:default'), { module: 'a/b', exportName: 'default', canonical: 'a/b' });
    assert.throws(() => parseFunctionName('messages.ts:list'), (error: unknown) => error instanceof FunctionNameError && /extension that isn't 'js'/.test(error.message));
    assert.throws(() => parseFunctionName('/abs:fn'), /must be relative/);
    assert.throws(() => parseFunctionName('a:1x'), /not a valid function name/);
    assert.throws(() => parseFunctionName('a/../b:c'), /Path component/);
    assert.throws(() => parseFunctionName(''), /empty/);
  });
});
