import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { HandlerProblem } from '../../src/config/index.js';
import { load, locations, yaml } from './helpers.js';

const source = yaml`
  version: 1
  routes:
    - { path: /a, method: GET, handler: messages:list }
    - { path: /b, method: GET, handler: messages:list }
    - { path: /c, method: GET, handler: missing }
    - { path: /d, method: GET, handler: messages:notAction }
    - { path: /e, method: GET, handler: messages:fine }
`;

const problems: Record<string, HandlerProblem> = {
  'messages:list': { rule: 'handler/missing-export', message: "functions/messages.ts has no export 'list'" },
  missing: { rule: 'handler/missing-module', message: 'functions/missing.ts does not exist' },
  'messages:notAction': { rule: 'handler/not-http-action', message: "'messages:notAction' is a query, not an httpAction" },
};

test('each distinct handler is inspected once, all in parallel, with the absolute functions folder', async () => {
  const calls: [string, string][] = [];
  let running = 0;
  let peak = 0;
  const result = await load(source, {
    inspectHandler: async (handler, functionsDir) => {
      calls.push([handler, functionsDir]);
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      return problems[handler] ?? null;
    },
  });
  assert.deepEqual(calls.map(([h]) => h).sort(), ['messages:fine', 'messages:list', 'messages:notAction', 'missing']);
  assert.ok(calls.every(([, dir]) => dir === path.join(result.dir, 'functions')));
  assert.equal(peak, 4, 'all inspections run at once');
});

test('a handler problem is reported at the handler of every route naming it, under its own rule', async () => {
  const result = await load(source, { inspectHandler: async (handler) => problems[handler] ?? null });
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), [
    'routes.yaml:3:39 handler/missing-export',
    'routes.yaml:4:39 handler/missing-export',
    'routes.yaml:5:39 handler/missing-module',
    'routes.yaml:6:39 handler/not-http-action',
  ]);
  assert.equal(result.diagnostics[2]!.message, 'functions/missing.ts does not exist');
});

test('an inspector that throws gives handler/inspect-failed instead of an exception', async () => {
  const result = await load(source, {
    inspectHandler: async (handler) => {
      if (handler === 'missing') throw new Error('SyntaxError in missing.ts');
      return null;
    },
  });
  assert.deepEqual(locations(result), ['routes.yaml:5:39 handler/inspect-failed']);
  assert.equal(result.diagnostics[0]!.message, "cannot load handler 'missing': SyntaxError in missing.ts");
});

test('handlers the schema refused, or a missing functions folder, are not inspected', async () => {
  const seen: string[] = [];
  const inspectHandler = async (handler: string) => {
    seen.push(handler);
    return null;
  };
  await load(
    yaml`
      version: 1
      routes:
        - { path: /a, method: GET, handler: ../outside:x }
        - { path: /b, method: GET, handler: ok }
    `,
    { inspectHandler },
  );
  assert.deepEqual(seen, ['ok']);
  seen.length = 0;
  const noFolder = await load(source, { inspectHandler, functions: false });
  assert.deepEqual(seen, []);
  assert.deepEqual(locations(noFolder), ['routes.yaml:2:1 config/functions-dir']);
});
