import assert from 'node:assert/strict';
import { freePort } from '../helpers/http.js';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';
import { runCli, startGateway } from '../helpers/gateway.js';

// The `portico` binary as a user (or a CI job) calls it: validate with its
// three formats and exit codes, serve refusing a bad config, routes, run,
// --help and --version. Each case runs the built binary in a project folder
// and checks what it printed and how it exited.

const handlers = `
import { httpAction, query, mutation, action, internalQuery, v, ConvexError } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
export const list = query({ args: {}, handler: async () => ['a', 'b'] });
export const add = mutation({
  args: { a: v.number(), big: v.int64() },
  handler: async (_ctx, { a, big }) => ({ sum: a + 1, doubled: big * 2n, bytes: new Uint8Array([1, 2, 3]).buffer }),
});
export const refuse = action({ args: {}, handler: async () => { throw new ConvexError({ code: 'Refused', n: 3 }); } });
export const explode = action({ args: {}, handler: async () => { throw new Error('the action exploded'); } });
export const secret = internalQuery({ args: {}, handler: async () => 'internal answer' });
`;

/** A project whose routes.yaml is `yaml` and whose functions/app.ts holds the handlers above. */
function project(yaml: string, extra: Record<string, string> = {}): Promise<string> {
  return makeProject({ 'routes.yaml': yaml, 'functions/app.ts': handlers, ...extra });
}

const validRoutes = `
  - { path: /hello, method: GET, handler: "app:hello" }
  - { path: /items, method: [GET, POST], handler: "app:hello" }
`;

const brokenRoutes = routesYaml(`
  - path: /hello
    metod: GET
    handler: "app:hello"
  - path: /list
    method: GET
    handler: "app:list"
`);

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeProject(dir);
});
async function tracked(promise: Promise<string>): Promise<string> {
  const dir = await promise;
  dirs.push(dir);
  return dir;
}

/** The `FILE:LINE:COL: severity: message [rule]` lines of an output. */
function problemLines(output: string): string[] {
  return output.split('\n').filter((line) => /^\S+:\d+:\d+: (error|warning): .* \[[a-z]+\/[A-Za-z-]+\]$/.test(line));
}

/** "LINE:COL rule" for each problem line, to say exactly what is expected where. */
function located(output: string): string[] {
  return problemLines(output).map((line) => {
    const match = /^(\S+):(\d+):(\d+): (?:error|warning): .* \[(.+)\]$/.exec(line)!;
    return `${match[1]}:${match[2]}:${match[3]} ${match[4]}`;
  });
}

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  assert.ok(index >= 0, `"${needle}" is in the text`);
  return index + 1;
}

describe('portico validate', () => {
  test('a valid config exits 0 and says OK with its route count', async () => {
    const dir = await tracked(project(routesYaml(validRoutes)));
    const { code, stdout, stderr } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'routes.yaml: OK (2 routes)\n');
  });

  test('warnings alone still exit 0, each printed as FILE:LINE:COL: warning: ... [rule]', async () => {
    const yaml = routesYaml(validRoutes, 'cors:\n  origins: []\n');
    const dir = await tracked(project(yaml));
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 0, stdout);
    // Reported at the policy itself (the `cors` key), with a hint below.
    assert.deepEqual(located(stdout), [`routes.yaml:${lineOf(yaml, 'cors:')}:1 cors/empty-origins`]);
    assert.match(stdout, /\n {4}hint: .+\n/);
    assert.match(stdout, /^routes\.yaml:\d+:\d+: warning: .+ \[cors\/empty-origins\]$/m);
    assert.equal(stdout.trimEnd().split('\n').at(-1), 'routes.yaml: OK (2 routes), 1 warning');
  });

  test('an invalid config exits 1 with one line per problem at its YAML node, then a summary', async () => {
    const dir = await tracked(project(brokenRoutes));
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 1, stdout);
    const metod = lineOf(brokenRoutes, 'metod:');
    const list = lineOf(brokenRoutes, '"app:list"');
    assert.deepEqual(located(stdout), [`routes.yaml:${metod}:5 schema/unknown-key`, `routes.yaml:${list}:14 handler/not-http-action`]);
    assert.ok(
      stdout.includes(`routes.yaml:${metod}:5: error: unknown key 'metod' in route (did you mean 'method'?) [schema/unknown-key]\n`),
      stdout,
    );
    assert.equal(stdout.trimEnd().split('\n').at(-1), '2 errors, 0 warnings in routes.yaml');
  });

  test('a handler export that is a query, not an httpAction, is handler/not-http-action at the handler', async () => {
    const yaml = routesYaml(`  - { path: /list, method: GET, handler: "app:list" }\n`);
    const dir = await tracked(project(yaml));
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 1, stdout);
    const line = lineOf(yaml, 'app:list');
    const column = yaml.split('\n')[line - 1]!.indexOf('"app:list"') + 1;
    assert.deepEqual(located(stdout), [`routes.yaml:${line}:${column} handler/not-http-action`]);
    assert.match(stdout, /"app:list" is a query, not an HTTP action/);
  });

  test('a handler module with a TypeScript syntax error is reported at its .ts file:line:col (functions/load)', async () => {
    const broken = `import { httpAction } from 'portico';\n\nexport const bad = httpAction(async () => {\n  const n: number = ;\n  return new Response(String(n));\n});\n`;
    const dir = await tracked(project(routesYaml(`  - { path: /bad, method: GET, handler: "broken:bad" }\n`), { 'functions/broken.ts': broken }));
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 1, stdout);
    // Line 4, the column of the stray `;`.
    const column = broken.split('\n')[3]!.indexOf(';') + 1;
    assert.deepEqual(located(stdout), [`functions/broken.ts:4:${column} functions/load`]);
    assert.match(stdout, /^1 error, 0 warnings in functions\/broken\.ts$/m);
  });

  test('a module that does not build does not hide the handler problems of the others', async () => {
    const broken = `export const nope: number = ;\n`;
    const other = `import { query } from 'portico';\nexport const list = query(async () => []);\n`;
    const routes = `  - { path: /a, method: GET, handler: "broken:a" }\n  - { path: /b, method: GET, handler: "other:list" }\n`;
    const dir = await tracked(project(routesYaml(routes), { 'functions/broken.ts': broken, 'functions/other.ts': other }));
    const { code, stdout } = await runCli(['validate'], { cwd: dir });
    assert.equal(code, 1, stdout);
    const found = located(stdout);
    assert.ok(found.some((entry) => /^functions\/broken\.ts:1:\d+ functions\/load$/.test(entry)), stdout);
    assert.ok(found.some((entry) => /^routes\.yaml:\d+:\d+ handler\/not-http-action$/.test(entry)), stdout);
    // The broken module's own route is not reported a second time as a missing module.
    assert.ok(!found.some((entry) => entry.endsWith('handler/missing-module')), stdout);
  });

  test('every problem of a config is reported in one run, across stages', async () => {
    const yaml = `version: 1
functions: ./functions
server:
  publicUrl: \${UNSET_FOR_THIS_TEST}
backend: { kind: local, database: ./.data/db.sqlite }
cors:
  origins: ["*"]
  credentials: true
routes:
  - { path: /a, method: GET, handler: "app:hello" }
  - { path: /a, method: GET, handler: "app:hello" }
  - { pathPrefix: /files, method: GET, handler: "app:hello" }
  - { path: /list, method: GET, handler: "app:list" }
  - { path: /gone, method: GET, handler: "nowhere:fn" }
  - { path: /typo, method: GET, handler: "app:hello", auht: required }
`;
    const dir = await tracked(project(yaml));
    const { code, stdout } = await runCli(['validate'], { cwd: dir, env: { UNSET_FOR_THIS_TEST: undefined } });
    assert.equal(code, 1, stdout);
    const rules = located(stdout).map((entry) => entry.split(' ')[1]);
    for (const rule of ['env/unset-variable', 'cors/credentials-wildcard', 'routes/duplicate', 'routes/prefix-trailing-slash', 'handler/not-http-action', 'handler/missing-module', 'schema/unknown-key']) {
      assert.ok(rules.includes(rule), `${rule} is reported; got:\n${stdout}`);
    }
    assert.equal(stdout.trimEnd().split('\n').at(-1), `${problemLines(stdout).length} errors, 0 warnings in routes.yaml`);
  });

  test('--format json prints one machine-readable report', async () => {
    const dir = await tracked(project(brokenRoutes));
    const { code, stdout } = await runCli(['validate', '--format', 'json'], { cwd: dir });
    assert.equal(code, 1);
    const report = JSON.parse(stdout);
    assert.equal(report.valid, false);
    assert.equal(report.errorCount, 2);
    assert.equal(report.warningCount, 0);
    assert.deepEqual(report.files, [{ file: 'routes.yaml', valid: false, errorCount: 2, warningCount: 0, routes: null }]);
    assert.deepEqual(
      report.diagnostics.map((d: any) => [d.file, d.line, d.column, d.severity, d.rule]),
      [
        ['routes.yaml', lineOf(brokenRoutes, 'metod:'), 5, 'error', 'schema/unknown-key'],
        ['routes.yaml', lineOf(brokenRoutes, '"app:list"'), 14, 'error', 'handler/not-http-action'],
      ],
    );
    assert.equal(typeof report.diagnostics[0].message, 'string');
    assert.ok('hint' in report.diagnostics[0]);

    const valid = await tracked(project(routesYaml(validRoutes)));
    const ok = await runCli(['validate', '--format', 'json'], { cwd: valid });
    assert.equal(ok.code, 0);
    assert.deepEqual(JSON.parse(ok.stdout), {
      valid: true,
      errorCount: 0,
      warningCount: 0,
      files: [{ file: 'routes.yaml', valid: true, errorCount: 0, warningCount: 0, routes: 2 }],
      diagnostics: [],
    });
  });

  test('--format github prints workflow annotations on stdout, the summary on stderr', async () => {
    const dir = await tracked(project(brokenRoutes));
    const { code, stdout, stderr } = await runCli(['validate', '--format', 'github'], { cwd: dir });
    assert.equal(code, 1);
    const metod = lineOf(brokenRoutes, 'metod:');
    assert.deepEqual(stdout.trimEnd().split('\n'), [
      `::error file=routes.yaml,line=${metod},col=5,title=schema/unknown-key::unknown key 'metod' in route (did you mean 'method'?)`,
      `::error file=routes.yaml,line=${lineOf(brokenRoutes, '"app:list"')},col=14,title=handler/not-http-action::"app:list" is a query, not an HTTP action: define it with httpAction(async (ctx, request) => ...)`,
    ]);
    assert.equal(stderr, '2 errors, 0 warnings in routes.yaml\n');
  });

  test('--format github with a module that does not build summarises both files', async () => {
    const dir = await tracked(project(brokenRoutes, { 'functions/broken.ts': 'export const x = ;\n' }));
    const { code, stdout, stderr } = await runCli(['validate', '--format', 'github'], { cwd: dir });
    assert.equal(code, 1);
    assert.match(stdout, /^::error file=functions\/broken\.ts,line=1,col=\d+,title=functions\/load::/m);
    assert.match(stdout, /^::error file=routes\.yaml,line=\d+,col=5,title=schema\/unknown-key::/m);
    // The module that does not build does not hide the others' problems:
    // `app:list` is a query, not an HTTP action.
    assert.match(stdout, /^::error file=routes\.yaml,line=\d+,col=\d+,title=handler\/not-http-action::/m);
    assert.deepEqual(stderr.trimEnd().split('\n').sort(), ['1 error, 0 warnings in functions/broken.ts', '2 errors, 0 warnings in routes.yaml']);
  });

  test('several -c files are checked in one run, each with its own summary; one invalid file fails the run', async () => {
    const dir = await tracked(
      project(routesYaml(validRoutes), {
        'other.yaml': routesYaml(`  - { path: /one, method: GET, handler: "app:hello" }\n`),
        'broken.yaml': brokenRoutes,
      }),
    );
    const good = await runCli(['validate', '-c', 'routes.yaml', '-c', 'other.yaml'], { cwd: dir });
    assert.equal(good.code, 0, good.stdout);
    assert.equal(good.stdout, 'routes.yaml: OK (2 routes)\nother.yaml: OK (1 route)\n');

    const mixed = await runCli(['validate', '-c', 'routes.yaml', '-c', 'broken.yaml', '-c', 'other.yaml'], { cwd: dir });
    assert.equal(mixed.code, 1, mixed.stdout);
    assert.deepEqual(located(mixed.stdout).map((entry) => entry.split(':')[0]), ['broken.yaml', 'broken.yaml']);
    assert.deepEqual(mixed.stdout.trimEnd().split('\n').slice(-3), ['routes.yaml: OK (2 routes)', '2 errors, 0 warnings in broken.yaml', 'other.yaml: OK (1 route)']);

    const json = JSON.parse((await runCli(['validate', '--format', 'json', '-c', 'routes.yaml', '-c', 'broken.yaml'], { cwd: dir })).stdout);
    assert.deepEqual(json.files.map((f: any) => [f.file, f.valid]), [['routes.yaml', true], ['broken.yaml', false]]);
  });

  test('a missing file is an error at the file, not a crash', async () => {
    const dir = await tracked(project(routesYaml(validRoutes)));
    const { code, stdout, stderr } = await runCli(['validate', '-c', 'nope.yaml'], { cwd: dir });
    assert.equal(code, 1, stderr);
    assert.deepEqual(located(stdout), ['nope.yaml:1:1 config/unreadable']);
    assert.doesNotMatch(stderr, /internal error/);
  });

  test('usage errors exit 2 and print the usage on stderr, nothing on stdout', async () => {
    const dir = await tracked(project(routesYaml(validRoutes)));
    for (const args of [['validate', '--bogus'], ['validate', '--format', 'xml'], ['validate', '--format']]) {
      const { code, stdout, stderr } = await runCli(args, { cwd: dir });
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '', args.join(' '));
      assert.match(stderr, /usage: portico validate/, args.join(' '));
    }
    const unknown = await runCli(['frobnicate'], { cwd: dir });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal(unknown.stdout, '');
  });
});

describe('portico serve on a bad config', () => {
  test('refuses with the same messages as validate, exits non-zero, and never listens', async () => {
    const dir = await tracked(project(brokenRoutes));
    const port = await freePort();
    const served = await runCli(['serve', '--port', String(port)], { cwd: dir });
    const validated = await runCli(['validate'], { cwd: dir });
    assert.notEqual(served.code, 0);
    assert.notEqual(served.code, null);
    assert.deepEqual(problemLines(served.stderr), problemLines(validated.stdout));
    assert.equal(problemLines(served.stderr).length, 2);
    assert.doesNotMatch(served.stderr, /listening/);
    assert.equal(await accepts(port), false, 'nothing listens on the port');
  });

  test('a module that does not build stops serve too, at its TypeScript line', async () => {
    const dir = await tracked(project(routesYaml(validRoutes), { 'functions/broken.ts': '\nexport const x: number = ;\n' }));
    const { code, stderr } = await runCli(['serve', '--port', '0'], { cwd: dir });
    assert.equal(code, 1);
    assert.deepEqual(located(stderr).map((entry) => entry.split(' ')[0]!.split(':').slice(0, 2).join(':')), ['functions/broken.ts:2']);
    assert.match(stderr, /not starting/);
  });
});

describe('portico serve when the machine stops it', () => {
  test('a port in use: one clear line and exit 1, not an internal error', async () => {
    const dir = await tracked(project(routesYaml(validRoutes)));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      for (const args of [[], ['--workers', '2']]) {
        const started = Date.now();
        const { code, stderr } = await runCli(['serve', '--port', String(port), ...args], { cwd: dir });
        assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
        assert.match(stderr, new RegExp(`not starting: cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`));
        assert.doesNotMatch(stderr, /internal error|\n\s+at /);
        // Workers that cannot listen are not restarted in a loop.
        assert.ok(Date.now() - started < 20_000);
        assert.ok((stderr.match(/starting another/g) ?? []).length === 0, stderr);
      }
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  test('an unreachable database: one clear line (password hidden) and exit 1, for serve, serve --workers and run', async () => {
    // Nothing listens on port 1 (a free port found now could be taken by
    // another test's server before the CLI connects).
    const port = 1;
    const yaml = `version: 1
functions: ./functions
backend: { kind: local, database: "postgres://someone:hunter2@127.0.0.1:${port}/nothing" }
routes:
${validRoutes}`;
    const dir = await tracked(project(yaml));
    for (const args of [['serve', '--port', '0'], ['serve', '--port', '0', '--workers', '2'], ['run', 'app:list']]) {
      const { code, stderr } = await runCli(args, { cwd: dir });
      assert.equal(code, 1, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, new RegExp(`cannot start the PostgreSQL database postgres://someone:\\*\\*\\*@127\\.0\\.0\\.1:${port}/nothing: connect ECONNREFUSED`), `${args.join(' ')}: ${stderr}`);
      assert.doesNotMatch(stderr, /hunter2/);
      assert.doesNotMatch(stderr, /internal error|\n\s+at /, args.join(' '));
    }
  });
});

describe('portico routes', () => {
  test('prints method, path, handler, CORS and auth of each route, with the generated preflights', async () => {
    const yaml = routesYaml(
      `
  - { path: /items, method: [GET, POST], handler: "app:hello", auth: required }
  - { path: /users/:id, method: PATCH, handler: "app:hello" }
  - { pathPrefix: /files/, method: GET, handler: "app:hello", cors: false }
  - { path: /own, method: [GET, OPTIONS], handler: "app:hello" }
`,
      `auth:
  providers:
    - { issuer: https://auth.example.com, audience: app, jwks: https://auth.example.com/jwks.json }
cors:
  origins: ["https://app.example.com"]
`,
    );
    const dir = await tracked(project(yaml));
    const { code, stdout, stderr } = await runCli(['routes'], { cwd: dir });
    assert.equal(code, 0, stderr);
    const rows = stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    assert.deepEqual(rows[0], ['METHOD', 'PATH', 'HANDLER', 'CORS', 'AUTH', 'POLICIES']);
    const find = (method: string, path: string) => rows.find((row) => row[0] === method && row[1] === path);
    assert.deepEqual(find('GET,POST', '/items'), ['GET,POST', '/items', 'app:hello', 'https://app.example.com', 'required', '-']);
    assert.deepEqual(find('PATCH', '/users/:id'), ['PATCH', '/users/:id', 'app:hello', 'https://app.example.com', 'optional', '-']);
    assert.deepEqual(find('GET', '/files/*'), ['GET', '/files/*', 'app:hello', '-', 'optional', '-']);
    // Preflights: generated for CORS paths with exactly their methods; not
    // for a path that declares OPTIONS itself, nor for a path without CORS.
    assert.deepEqual(find('OPTIONS', '/items'), ['OPTIONS', '/items', '(preflight: GET, POST)']);
    assert.deepEqual(find('OPTIONS', '/users/:id'), ['OPTIONS', '/users/:id', '(preflight: PATCH)']);
    assert.equal(find('OPTIONS', '/files/*'), undefined);
    assert.equal(rows.filter((row) => row[1] === '/own').length, 1);
    assert.ok(find('GET', '/_portico/health'));

    // The table says what the running gateway does.
    const gateway = await startGateway(dir, { timeoutMs: 60_000 });
    try {
      for (const [path, url] of [['/items', '/items'], ['/users/:id', '/users/7']] as const) {
        const preflight = await fetch(gateway.url + url, {
          method: 'OPTIONS',
          headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
        });
        assert.equal(preflight.status, 204, path);
        const listed = /^\(preflight: (.*)\)$/.exec(find('OPTIONS', path)![2]!)![1];
        assert.equal(preflight.headers.get('access-control-allow-methods'), listed, path);
      }
      const uncors = await fetch(`${gateway.url}/files/x`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
      assert.equal(uncors.headers.get('access-control-allow-origin'), null);
    } finally {
      await gateway.stop();
    }
  });

  test('a bad config: the problems, exit 1', async () => {
    const dir = await tracked(project(brokenRoutes));
    const { code, stdout, stderr } = await runCli(['routes'], { cwd: dir });
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.ok(located(stderr).includes(`routes.yaml:${lineOf(brokenRoutes, 'metod:')}:5 schema/unknown-key`), stderr);
  });
});

describe('portico run', () => {
  let dir: string;
  before(async () => {
    dir = await tracked(project(routesYaml(validRoutes)));
  });

  test('prints the JSON result of a query', async () => {
    const { code, stdout, stderr } = await runCli(['run', 'app:list'], { cwd: dir });
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), ['a', 'b']);
  });

  test('passes ARGS_JSON (encoded values included) to a mutation and prints int64 and bytes as JSON', async () => {
    const big = Buffer.alloc(8);
    big.writeBigInt64LE(5n);
    const args = JSON.stringify({ a: 41, big: { $integer: big.toString('base64') } });
    const { code, stdout, stderr } = await runCli(['run', 'app:add', args], { cwd: dir });
    assert.equal(code, 0, stderr);
    assert.deepEqual(JSON.parse(stdout), { sum: 42, doubled: '10', bytes: 'AQID' });
  });

  test('runs internal functions (the CLI is an admin)', async () => {
    const { code, stdout } = await runCli(['run', 'app:secret', '{}'], { cwd: dir });
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout), 'internal answer');
  });

  test('a failing function exits 1 with its message (and ConvexError data) on stderr', async () => {
    const plain = await runCli(['run', 'app:explode'], { cwd: dir });
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, '');
    assert.match(plain.stderr, /the action exploded/);

    const withData = await runCli(['run', 'app:refuse'], { cwd: dir });
    assert.equal(withData.code, 1);
    assert.match(withData.stderr, /^data: \{"code":"Refused","n":3\}$/m);

    const missing = await runCli(['run', 'app:nothing'], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /app:nothing/);
  });

  test('bad ARGS_JSON, or no name, is a usage error: exit 2', async () => {
    for (const args of [['run', 'app:add', '{not json'], ['run'], ['run', 'app:add', '{}', 'extra']]) {
      const { code, stdout, stderr } = await runCli(args, { cwd: dir });
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.match(stderr, /usage: portico run/);
    }
  });

  test('arguments that fail the validators are a function error: exit 1', async () => {
    const { code, stderr } = await runCli(['run', 'app:add', '{"a":"nine"}'], { cwd: dir });
    assert.equal(code, 1);
    assert.match(stderr, /a/);
    assert.match(stderr, /ArgumentValidationError|Value does not match|validator/i);
  });
});

describe('portico --help and --version', () => {
  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const { code, stdout } = await runCli([flag]);
      assert.equal(code, 0);
      assert.equal(stdout, `${version}\n`);
    }
  });

  test('--help lists every command of the contract and exits 0; no command at all is a usage error', async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    for (const command of ['serve', 'validate', 'routes', 'run', 'dev']) assert.match(stdout, new RegExp(`^  ${command}\\s+\\S`, 'm'), command);
    const bare = await runCli([]);
    assert.equal(bare.code, 2);
  });

  test('<command> --help prints that command\'s usage', async () => {
    const { code, stdout } = await runCli(['validate', '--help']);
    assert.equal(code, 0);
    assert.match(stdout, /^usage: portico validate \[FILE\]\.\.\. \[options\]\n/);
    assert.match(stdout, /--format FORMAT .*\(default: text\)/);
    const serve = await runCli(['serve', '--help']);
    assert.match(serve.stdout, /--port N/);
  });
});


function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
