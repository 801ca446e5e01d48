// package.json tells the truth: every dependency it lists is imported by the
// code (runtime ones by src/), and everything the code imports is listed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '../..');

test('no unused, unlisted or unresolved dependency (knip, knip.jsonc)', () => {
  const knip = path.join(root, 'node_modules/.bin/knip');
  const result = spawnSync(knip, ['--include', 'dependencies,unlisted,unresolved', '--no-progress'], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, `knip found problems:\n${result.stdout}${result.stderr}`);
});
