import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatGithub, formatJson, formatText, type Diagnostic } from '../../src/config/index.js';

const cwd = '/work/app';
const error: Diagnostic = {
  file: '/work/app/routes.yaml',
  line: 4,
  column: 5,
  severity: 'error',
  message: "unknown key 'metod' in route (did you mean 'method'?)",
  rule: 'schema/unknown-key',
};
const warning: Diagnostic = {
  file: '/work/app/routes.yaml',
  line: 2,
  column: 1,
  severity: 'warning',
  message: 'the default CORS policy allows no origin',
  rule: 'cors/empty-origins',
  hint: 'add origins, or write cors: false',
};

test('formatText prints FILE:LINE:COL: severity: message [rule], hints indented, then a summary', () => {
  assert.equal(
    formatText([error, warning], { cwd }),
    [
      'routes.yaml:2:1: warning: the default CORS policy allows no origin [cors/empty-origins]',
      '    hint: add origins, or write cors: false',
      "routes.yaml:4:5: error: unknown key 'metod' in route (did you mean 'method'?) [schema/unknown-key]",
      '1 error, 1 warning in routes.yaml',
    ].join('\n'),
  );
});

test('formatText counts in plural and keeps paths outside cwd absolute', () => {
  const other = { ...error, file: '/elsewhere/routes.yaml', line: 9 };
  const text = formatText([error, { ...error, line: 7 }, other], { cwd });
  assert.deepEqual(text.split('\n').slice(-2), ['2 errors, 0 warnings in routes.yaml', '1 error, 0 warnings in /elsewhere/routes.yaml']);
  assert.match(text, /^\/elsewhere\/routes\.yaml:9:5: error:/m);
});

test('formatText says OK with the route count for clean files, and OK with warnings when only warnings', () => {
  assert.equal(formatText([], { cwd, files: [{ file: '/work/app/routes.yaml', routes: 12 }] }), 'routes.yaml: OK (12 routes)');
  assert.equal(formatText([], { cwd, files: [{ file: '/work/app/one.yaml', routes: 1 }] }), 'one.yaml: OK (1 route)');
  assert.equal(
    formatText([warning], { cwd, files: [{ file: '/work/app/routes.yaml', routes: 3 }] }).split('\n').at(-1),
    'routes.yaml: OK (3 routes), 1 warning',
  );
});

test('formatGithub prints one workflow command per problem, escaping data and properties', () => {
  const tricky: Diagnostic = { ...error, file: '/work/app/a,b:c.yaml', message: '100% wrong\r\nsecond line' };
  assert.equal(
    formatGithub([tricky, warning], { cwd }),
    [
      '::error file=a%2Cb%3Ac.yaml,line=4,col=5,title=schema/unknown-key::100%25 wrong%0D%0Asecond line',
      '::warning file=routes.yaml,line=2,col=1,title=cors/empty-origins::the default CORS policy allows no origin%0Ahint: add origins, or write cors: false',
    ].join('\n'),
  );
});

test('formatJson gives a stable object with counts, per-file results and every diagnostic', () => {
  const report = formatJson([error, warning], {
    cwd,
    files: [
      { file: '/work/app/routes.yaml' },
      { file: '/work/app/ok.yaml', routes: 2 },
    ],
  });
  assert.deepEqual(report, {
    valid: false,
    errorCount: 1,
    warningCount: 1,
    files: [
      { file: 'routes.yaml', valid: false, errorCount: 1, warningCount: 1, routes: null },
      { file: 'ok.yaml', valid: true, errorCount: 0, warningCount: 0, routes: 2 },
    ],
    diagnostics: [
      { file: 'routes.yaml', line: 2, column: 1, severity: 'warning', rule: 'cors/empty-origins', message: warning.message, hint: warning.hint },
      { file: 'routes.yaml', line: 4, column: 5, severity: 'error', rule: 'schema/unknown-key', message: error.message, hint: null },
    ],
  });
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'plain JSON, nothing lost in serialisation');
  assert.equal(formatJson([warning], { cwd }).valid, true, 'warnings alone are valid');
});
