// The layers of src/ (scripts/architecture.mjs): data flows one way, from the
// CLI down to config, http, values and log, with no circle anywhere.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script without type declarations
import { circles, folderGraph, importGraph, upwardImports } from '../../scripts/architecture.mjs';

const src = path.resolve(import.meta.dirname, '../../src');

test('src/ imports no folder above its own level', () => {
  assert.deepEqual(upwardImports(importGraph(src)), []);
});

test('src/ has no circle of modules and no circle of folders', () => {
  const graph = importGraph(src);
  assert.deepEqual(circles(graph), []);
  assert.deepEqual(circles(folderGraph(graph)), []);
});

test('the checker itself sees an upward import, a module circle and a folder circle put there on purpose', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-layers-'));
  try {
    const write = (file: string, text: string) => {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    };
    write('database/a.ts', "import { b } from './b.js';\nexport const a = 1;\n");
    write('database/b.ts', "import type { a } from './a.js';\nexport const b = 2;\n");
    write('values/v.ts', "export const v = await import('../server/s.js');\n");
    write('server/s.ts', "import { v } from '../values/v.js';\n");
    write('storage/x.ts', "import { y } from '../auth/y.js';\n");
    write('auth/y.ts', "import { z } from '../storage/z.js';\n");
    write('storage/z.ts', 'export const z = 1;\n');
    const graph = importGraph(dir);
    assert.deepEqual(upwardImports(graph), ['values/v.ts -> server/s.ts: values may not import server, which sits above it']);
    assert.deepEqual(circles(graph), [['database/a.ts', 'database/b.ts'], ['server/s.ts', 'values/v.ts']]);
    assert.deepEqual(circles(folderGraph(graph)).sort(), [['auth', 'storage'], ['server', 'values']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
