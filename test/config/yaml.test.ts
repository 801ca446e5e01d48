import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { load, locations, only, yaml } from './helpers.js';

test('a YAML syntax error is reported at its line and column and stops there', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a: b
        metod: GET
  `);
  assert.equal(result.config, null);
  const d = only(result, 'yaml/syntax');
  assert.deepEqual([d.line, d.column, d.severity], [3, 11, 'error']);
  assert.match(d.message, /Nested mappings/);
  assert.ok(result.diagnostics.every((x) => x.rule === 'yaml/syntax'), 'no schema noise after a syntax error');
});

test('a duplicate key is an error at the second key, and checking goes on', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: GET
        handler: a
        path: /b
    server: { prot: 1 }
  `);
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['routes.yaml:6:5 yaml/duplicate-key', 'routes.yaml:7:11 schema/unknown-key']);
  assert.equal(only(result, 'yaml/duplicate-key').message, "duplicate key 'path'");
});

test('an unknown tag is a yaml/warning and does not block loading', async () => {
  const result = await load(yaml`
    version: 1
    routes: []
    server:
      host: !weird 0.0.0.0
  `);
  assert.deepEqual(locations(result), ['routes.yaml:4:9 yaml/warning']);
  assert.ok(result.config);
});

test('a missing file is config/unreadable at 1:1, not an exception', async () => {
  const file = path.join(import.meta.dirname, 'fixtures', 'does-not-exist.yaml');
  const result = await loadConfig(file, { env: {} });
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['does-not-exist.yaml:1:1 config/unreadable']);
  assert.equal(result.diagnostics[0]!.file, file);
});

test('a problem in a value merged with <<: *anchor is reported once, at the anchored text', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - &base
        path: /a
        method: GTE
        handler: a
      - <<: *base
        path: /b
  `);
  // Both routes carry the bad method from line 5: one line, where the fix goes.
  assert.deepEqual(locations(result), ['routes.yaml:5:13 schema/enum']);
});

test('merge keys resolve like YAML says: own keys win over merged ones', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - &base { path: /a, method: GET, handler: a, timeout: 5s }
      - <<: *base
        path: /b
        timeout: 7s
  `);
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(
    result.config!.routes.map((r) => [r.path, r.methods, r.timeoutMs]),
    [
      ['/a', ['GET'], 5000],
      ['/b', ['GET'], 7000],
    ],
  );
});
