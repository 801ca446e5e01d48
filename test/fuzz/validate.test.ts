import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { main } from '../../src/cli/main.js';
import { parseYaml } from '../../src/config/source.js';
import { YAML_LIMITS } from '../../src/config/yaml-bounds.js';
import { BIN } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { aliasBomb, BASE_CONFIG, FUNCTIONS, manyMerges, mutatedConfig, type MutatedConfig } from './config-mutations.js';
import { fuzz, SEED } from './settings.js';

// `portico validate` on mutated configs. Whatever the file holds, validate
// exits 0 or 1, prints only `FILE:LINE:COL: severity: message [rule]` lines
// (with their hints and the summary), never a stack trace, and finishes in
// bounded time and memory: an alias bomb is refused, not expanded. Most
// cases run in-process through the CLI's own `main` (fast); a sample runs
// through the built binary with a small heap.

const ENV = { CLIENT_ORIGIN: 'http://localhost:5173' };
/** Far above a normal run (tens of ms); a config that expands or backtracks blows past it. */
const CASE_LIMIT_MS = 8000;

const PROBLEM = /^(.+):(\d+):(\d+): (error|warning): (.*) \[([a-z]+\/[A-Za-z-]+)\]$/;
const HINT = /^ {4}hint: /;
const SUMMARY = /^(\d+ errors?, \d+ warnings? in .+|.+: OK( \(\d+ routes?\))?(, \d+ warnings?)?)$/;

interface Outcome {
  code: number | null;
  out: string;
  err: string;
  ms: number;
}

/** What every run of validate must look like, whatever it was given. */
function assertWellBehaved(outcome: Outcome, format: 'text' | 'json' | 'github'): void {
  const { code, out, err } = outcome;
  assert.ok(code === 0 || code === 1, `exit code ${code}, expected 0 or 1\nstdout:\n${out.slice(0, 2000)}\nstderr:\n${err.slice(0, 2000)}`);
  assert.ok(outcome.ms < CASE_LIMIT_MS, `validate took ${outcome.ms} ms`);
  assert.doesNotMatch(out + err, /internal error|^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');
  let errors = 0;
  if (format === 'json') {
    const report = JSON.parse(out) as { valid: boolean; diagnostics: { line: number; column: number; severity: string; message: string }[] };
    for (const d of report.diagnostics) {
      assert.ok(Number.isInteger(d.line) && d.line >= 1 && Number.isInteger(d.column) && d.column >= 1, `position ${d.line}:${d.column} of "${d.message.slice(0, 200)}"`);
      if (d.severity === 'error') errors++;
    }
    assert.equal(report.valid, errors === 0);
  } else {
    const lines = (format === 'text' ? out : err).split('\n').filter((line) => line !== '');
    assert.ok(lines.length > 0, 'validate printed a summary');
    for (const line of lines) {
      const problem = PROBLEM.exec(line);
      if (format === 'text' && problem) {
        assert.ok(Number(problem[2]) >= 1 && Number(problem[3]) >= 1, `position in: ${line.slice(0, 300)}`);
        if (problem[4] === 'error') errors++;
        continue;
      }
      assert.ok(HINT.test(line) || SUMMARY.test(line), `a line that is neither FILE:LINE:COL, a hint nor a summary:\n${JSON.stringify(line.slice(0, 500))}`);
    }
    if (format === 'github') {
      for (const line of out.split('\n').filter((l) => l !== '')) {
        assert.match(line, /^::(error|warning) file=[^,]+,line=[1-9]\d*,col=[1-9]\d*,title=[^:]+::/, `not one annotation per line: ${JSON.stringify(line.slice(0, 300))}`);
        if (line.startsWith('::error')) errors++;
      }
    }
  }
  assert.equal(code, errors > 0 ? 1 : 0, 'exit 1 exactly when an error was printed');
}

/** validate through the CLI's own entry point; a thrown error is what the binary prints as a stack trace. */
async function validateInProcess(dir: string, format: 'text' | 'json' | 'github'): Promise<Outcome> {
  let out = '';
  let err = '';
  const started = Date.now();
  const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s), cwd: dir, env: ENV };
  let code: number | null;
  try {
    code = await main(['validate', '-c', 'routes.yaml', '--format', format], io);
  } catch (error) {
    code = 70;
    err += `portico: internal error: ${(error as Error).stack}`;
  }
  return { code, out, err, ms: Date.now() - started };
}

/** validate through the built binary, with a small heap and a kill timer. */
function validateBinary(dir: string, format: 'text' | 'json' | 'github', heapMb = 128): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, BIN, 'validate', '-c', 'routes.yaml', '--format', format], {
      cwd: dir,
      env: { ...process.env, ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), CASE_LIMIT_MS * 2);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, ms: Date.now() - started });
    });
  });
}

const format = fc.constantFrom('text' as const, 'text' as const, 'json' as const, 'github' as const);

describe('portico validate on fuzzed configs', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': BASE_CONFIG, ...FUNCTIONS });
  });
  after(async () => {
    await removeProject(dir);
  });
  const write = (text: string) => writeFile(path.join(dir, 'routes.yaml'), text);
  const describeCase = (c: MutatedConfig) => `steps: ${c.steps.join('; ')}\nfile (${c.text.length} chars):\n${c.text.slice(0, 1500)}`;

  test('the base config is valid (so mutations start from a config that passes)', async () => {
    await write(BASE_CONFIG);
    const outcome = await validateInProcess(dir, 'text');
    assert.equal(outcome.code, 0, outcome.out + outcome.err);
  });

  test(`mutated configs: exit 0 or 1, FILE:LINE:COL lines only, bounded time (in-process, seed ${SEED})`, async () => {
    await fuzz(
      fc.asyncProperty(mutatedConfig, format, async (mutated, fmt) => {
        await write(mutated.text);
        const outcome = await validateInProcess(dir, fmt);
        try {
          assertWellBehaved(outcome, fmt);
        } catch (error) {
          (error as Error).message += `\n${describeCase(mutated)}`;
          throw error;
        }
      }),
      100,
    );
  });

  test(`mutated configs through the built binary, with a 128 MB heap (seed ${SEED})`, async () => {
    await fuzz(
      fc.asyncProperty(mutatedConfig, format, async (mutated, fmt) => {
        await write(mutated.text);
        const outcome = await validateBinary(dir, fmt);
        try {
          assertWellBehaved(outcome, fmt);
        } catch (error) {
          (error as Error).message += `\n${describeCase(mutated)}`;
          throw error;
        }
      }),
      6,
    );
  });

  // Regression: toJS() expanded with the `yaml` package's budget of 100
  // alias uses and threw a ReferenceError that validate printed as an
  // internal error with its stack (exit 70).
  test('an alias bomb is refused with yaml/limit at the alias that crosses the limit, without expanding it', async () => {
    await write(aliasBomb(9, 12, 'server'));
    const outcome = await validateBinary(dir, 'text', 64);
    assertWellBehaved(outcome, 'text');
    assert.match(outcome.out, /^routes\.yaml:\d+:\d+: error: aliases expand this file past \d+ values \(an alias bomb\?\); refused without expanding it \[yaml\/limit\]$/m);
    assert.ok(outcome.ms < 5000, `took ${outcome.ms} ms`);
  });

  // Regression: the first version of the bound counted every value of the
  // file, so a long config without a single alias (20,000 routes) was
  // refused as an alias bomb.
  test('a long file without aliases is not an alias bomb: only what aliases add counts', () => {
    // A small limit keeps the files small; the rule is the same at any size.
    const limit = YAML_LIMITS.values;
    YAML_LIMITS.values = 1000;
    try {
      const plain = `routes: [${Array(5000).fill('1').join(',')}]\n`;
      assert.deepEqual(parseYaml('plain.yaml', plain).diagnostics, []);
      const aliased = `a: &a [${Array(100).fill('1').join(',')}]\nb: [${Array(11).fill('*a').join(',')}]\n`;
      assert.deepEqual(parseYaml('aliased.yaml', aliased).diagnostics.map((d) => [d.rule, d.line, d.column]), [['yaml/limit', 2, 32]]);
    } finally {
      YAML_LIMITS.values = limit;
    }
  });

  // Regression: the same budget of 100 made a config with more than 100
  // routes sharing settings through `<<: *shared` crash validate.
  test('300 routes merging one anchored route validate cleanly', async () => {
    await write(manyMerges(300));
    const outcome = await validateInProcess(dir, 'text');
    assertWellBehaved(outcome, 'text');
    assert.equal(outcome.code, 0, outcome.out);
    assert.match(outcome.out, /routes\.yaml: OK \(300 routes\)/);
  });

  // Regression: block mappings nested a few thousand deep overflowed the YAML
  // parser's stack, and validate printed the RangeError's stack.
  test('mappings nested 3000 deep are a yaml/limit error at the deepest line, not a stack trace', async () => {
    const lines = ['version: 1', 'functions: ./functions', 'server:'];
    for (let i = 1; i <= 3000; i++) lines.push(`${'  '.repeat(i)}k:`);
    await write(`${lines.join('\n')}\nroutes: []\n`);
    const outcome = await validateInProcess(dir, 'text');
    assertWellBehaved(outcome, 'text');
    assert.match(outcome.out, /^routes\.yaml:3003:\d+: error: mappings and lists nest too deeply for the YAML parser .*\[yaml\/limit\]$/m);
  });

  test('lists nested 150 deep are refused with yaml/limit before any later check walks them', async () => {
    await write(`version: 1\nfunctions: ./functions\nroutes: ${'['.repeat(150)}${']'.repeat(150)}\n`);
    const outcome = await validateInProcess(dir, 'text');
    assertWellBehaved(outcome, 'text');
    assert.match(outcome.out, /^routes\.yaml:3:\d+: error: mappings and lists nest more than 100 levels deep here .*\[yaml\/limit\]$/m);
  });

  // Regression: a quoted key with a line break (or U+2028, or a terminal
  // escape) was printed raw inside its message, splitting one problem over
  // two lines that did not start with FILE:LINE:COL.
  test('a key holding line breaks and escapes is printed escaped, on its one line', async () => {
    await write(`version: 1\nfunctions: ./functions\n"a\\nb\\u2028c\\e[31m": 1\nroutes: []\n`);
    const outcome = await validateInProcess(dir, 'text');
    assertWellBehaved(outcome, 'text');
    assert.match(outcome.out, /^routes\.yaml:3:1: error: unknown key 'a\\nb\\u2028c\\u001b\[31m' at the top level \[schema\/unknown-key\]$/m);
  });

  // An alias inside its own anchor makes toJS() build a value that contains
  // itself; later checks would recurse forever on it.
  test('an alias inside the node it names is a yaml/alias-cycle error', async () => {
    await write(`version: 1\nfunctions: ./functions\ncors: &c\n  origins: [*c]\nroutes: []\n`);
    const outcome = await validateInProcess(dir, 'text');
    assertWellBehaved(outcome, 'text');
    assert.match(outcome.out, /^routes\.yaml:4:13: error: alias \*c sits inside the node &c names, so that value would contain itself \[yaml\/alias-cycle\]$/m);
  });
});
