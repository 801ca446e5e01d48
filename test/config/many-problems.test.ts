import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { formatText, loadConfig } from '../../src/config/index.js';
import { locations } from './helpers.js';

const file = path.join(import.meta.dirname, 'fixtures', 'many-problems', 'routes.yaml');

test('a config with many problems reports every one of them at once, in file order', async () => {
  const result = await loadConfig(file, {
    env: {},
    inspectHandler: async (handler) =>
      handler.startsWith('missing') ? { rule: 'handler/missing-module', message: 'functions/missing.ts does not exist' } : null,
  });
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), [
    'routes.yaml:5:14 env/unset-variable',
    'routes.yaml:6:3 schema/unknown-key',
    'routes.yaml:8:9 schema/pattern',
    'routes.yaml:10:9 config/remote-backend',
    'routes.yaml:10:9 config/remote-backend',
    'routes.yaml:12:12 cors/redundant-origins',
    'routes.yaml:12:18 cors/malformed-origin',
    'routes.yaml:13:16 cors/credentials-wildcard',
    'routes.yaml:18:11 routes/duplicate',
    'routes.yaml:19:20 schema/enum',
    'routes.yaml:24:11 routes/ambiguous-param',
    'routes.yaml:27:17 routes/prefix-trailing-slash',
    'routes.yaml:30:11 routes/reserved-path',
    'routes.yaml:31:5 schema/unknown-key',
    'routes.yaml:32:14 handler/missing-module',
    'routes.yaml:33:11 routes/reserved-path',
    'routes.yaml:34:13 schema/enum',
  ]);
  const text = formatText(result.diagnostics, { cwd: path.dirname(file) });
  assert.equal(text.split('\n').at(-1), '16 errors, 1 warning in routes.yaml');
  assert.match(text, /^routes\.yaml:6:3: error: unknown key 'hots' in server \(did you mean 'host'\?\) \[schema\/unknown-key\]$/m);
});
