import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RULES } from '../../src/config/index.js';

const srcDir = path.join(import.meta.dirname, '..', '..', 'src');
// In source a rule id is a whole string literal.
const QUOTED_ID = /'((?:config|yaml|env|schema|routes|cors|handler|functions)\/[A-Za-z-]+)'/g;

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

test('every catalogue rule has a well-formed id, a severity and a description', () => {
  for (const [id, info] of Object.entries(RULES)) {
    assert.match(id, /^[a-z]+\/[A-Za-z-]+$/, id);
    assert.ok(info.severity === 'error' || info.severity === 'warning', id);
    assert.ok(info.description.length > 10, id);
  }
});

// That every rule is really emitted is checked by every-rule.test.ts, which
// runs a fixture project for each one through the validate path.
