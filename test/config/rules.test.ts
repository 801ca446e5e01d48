import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RULES } from '../../src/config/index.js';

const srcDir = path.join(import.meta.dirname, '..', '..', 'src', 'config');
// Rules are tested wherever their behaviour lives (functions/load by the CLI
// tests, for instance), so the whole test folder counts.
const testDir = path.join(import.meta.dirname, '..');
// In source a rule id is a whole string literal; in tests it also sits inside
// expected `routes.yaml:1:1 rule` strings.
const QUOTED_ID = /'((?:config|yaml|env|schema|routes|cors|handler)\/[A-Za-z-]+)'/g;
const ANY_ID = /\b((?:config|yaml|env|schema|routes|cors|handler|functions)\/[A-Za-z-]+)/g;

function idsIn(dir: string, pattern: RegExp, ids = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = entry.name;
    // test/.work holds throwaway projects of other tests.
    if (entry.isDirectory()) {
      if (name !== '.work' && name !== 'node_modules') idsIn(path.join(dir, name), pattern, ids);
      continue;
    }
    if (!name.endsWith('.ts') || name === 'rules.ts' || name === 'rules.test.ts') continue;
    for (const match of readFileSync(path.join(dir, name), 'utf8').matchAll(pattern)) ids.add(match[1]!);
  }
  return ids;
}

test('every rule id the loader can emit is in the catalogue', () => {
  const unknown = [...idsIn(srcDir, QUOTED_ID)].filter((id) => !(id in RULES));
  assert.deepEqual(unknown, []);
});

test('every catalogue rule has a severity, a description and a test that expects it', () => {
  const tested = idsIn(testDir, ANY_ID);
  for (const [id, info] of Object.entries(RULES)) {
    assert.match(id, /^[a-z]+\/[A-Za-z-]+$/, id);
    assert.ok(info.severity === 'error' || info.severity === 'warning', id);
    assert.ok(info.description.length > 10, id);
  }
  // schema/invalid is the fallback for keywords the schema does not use yet.
  const untested = Object.keys(RULES).filter((id) => !tested.has(id) && id !== 'schema/invalid');
  assert.deepEqual(untested, []);
});
