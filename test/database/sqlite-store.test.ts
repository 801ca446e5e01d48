import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/database/sqlite/sqlite-store.js';
import { scanStatement } from '../../src/database/sqlite/sqlite-tx.js';
import { sqlIndexName } from '../../src/database/store.js';
import { storeContract } from './store-contract.js';

// The Store contract on embedded SQLite: a fresh database file per test.
// Index use is read from EXPLAIN QUERY PLAN of the exact statement a scan runs.

storeContract('SQLite', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'portico-sqlite-store-'));
  const file = path.join(dir, 'db.sqlite');
  const store = new SqliteStore(file);
  return {
    store,
    async explain(request) {
      const db = new Database(file, { readonly: true });
      try {
        const { sql, params } = scanStatement(request);
        const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[];
        return rows.map((row) => row.detail).join('\n');
      } finally {
        db.close();
      }
    },
    // e.g. `SEARCH t_messages USING INDEX t_messages__by_author (k_by_author>? AND k_by_author<?)`;
    // a table scan reads `SCAN t_messages` and a sort `USE TEMP B-TREE FOR ORDER BY`.
    usesIndex(plan, table, index) {
      return plan.includes(`USING INDEX ${sqlIndexName(table, index).slice(1, -1)}`) && !plan.includes('TEMP B-TREE') && !new RegExp(`SCAN t_${table}$`, 'm').test(plan);
    },
    async openAnother() {
      return new SqliteStore(file);
    },
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('a scan binds only its key bounds: a bound LIMIT made SQLite re-plan the statement on every call', () => {
  const range = { lower: Buffer.from([1]), lowerInclusive: true, upper: Buffer.from([2]), upperInclusive: false };
  const first = scanStatement({ table: 'messages', index: 'by_author', range, order: 'desc', limit: 1 });
  const batch = scanStatement({ table: 'messages', index: 'by_author', range, order: 'desc', limit: 128 });
  assert.deepEqual(first.params, [range.lower, range.upper]);
  assert.match(first.sql, /LIMIT 1$/);
  assert.match(batch.sql, /LIMIT 128$/);
  assert.throws(() => scanStatement({ table: 'messages', index: 'by_author', range, order: 'asc', limit: 1.5 }), RangeError);
});
