import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { BACKFILL_BATCH, backfill } from '../../src/database/postgres/backfill.js';
import { newId } from '../../src/database/ids.js';
import { indexKey } from '../../src/database/index-keys.js';
import type { DocumentWrite } from '../../src/database/store.js';
import { PostgresStore } from '../../src/database/postgres/postgres-store.js';
import { scanStatement } from '../../src/database/postgres/postgres-tx.js';
import { pgIndexName, pgKeyColumn, pgTable } from '../../src/database/postgres/identifiers.js';
import { freshDatabase } from '../helpers/postgres.js';
import { storeContract } from './store-contract.js';

// The Store contract on PostgreSQL: a new database per test (skipped loudly
// when no server is reachable). Index use is read from EXPLAIN of the exact
// statement a scan runs, after ANALYZE, with the planner's default settings.

storeContract('PostgreSQL', async (t) => {
  const url = await freshDatabase(t);
  if (!url) return null;
  const store = await PostgresStore.connect(url, 10);
  return {
    store,
    async explain(request) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`ANALYZE ${pgTable(request.table)}`);
        const { text, values } = scanStatement(request);
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, values);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      } finally {
        await client.end();
      }
    },
    // e.g. `Index Scan Backward using i_messages__by_author on t_messages`; a
    // table scan reads `Seq Scan on t_messages`.
    usesIndex(plan, table, index) {
      const sqlName = (quoted: string) => quoted.slice(1, -1);
      return new RegExp(`Index (Only )?Scan( Backward)? using "?${sqlName(pgIndexName(table, index))}"? on "?${sqlName(pgTable(table))}"?`).test(plan) && !plan.includes('Seq Scan') && !/\bSort\b/.test(plan);
    },
    openAnother() {
      return PostgresStore.connect(url, 5);
    },
    async close() {
      await store.close();
    },
  };
});

// PostgreSQL-only behaviour under faults of the function or of the server.

async function openStore(t: TestContext, pool: number): Promise<{ store: PostgresStore; url: string } | null> {
  const url = await freshDatabase(t);
  if (!url) return null;
  const store = await PostgresStore.connect(url, pool);
  t.after(() => store.close());
  return { store, url };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const write = (id: string, n: number): DocumentWrite => ({ id, creationTime: n, json: JSON.stringify({ n }), fields: { n } });

describe('PostgreSQL store under faults', () => {
  test('a mutation timed out while its statement waits on a lock is rolled back and its connection destroyed, never left idle in transaction', async (t) => {
    const opened = await openStore(t, 1);
    if (!opened) return;
    const { store, url } = opened;
    const id = newId(await store.write((tx) => tx.ensureTable('locked'), { timeoutMs: 5_000 }));
    await store.write((tx) => tx.insert('locked', write(id, 1)), { timeoutMs: 5_000 });

    await withClient(url, async (blocker) => {
      // Another session holds the row: the mutation's UPDATE waits on it.
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM ${pgTable('locked')} WHERE id = $1 FOR UPDATE`, [id]);
      const started = Date.now();
      await assert.rejects(store.write((tx) => tx.replace('locked', write(id, 2)), { timeoutMs: 300 }), /did not finish within 300 ms/);
      assert.ok(Date.now() - started < 2_000, 'the caller is answered at the time limit');
      // The pool's only connection is usable again at once.
      assert.equal(await store.read((tx) => tx.get('locked', id).then((doc) => doc?.json)), JSON.stringify({ n: 1 }));
      await blocker.query('ROLLBACK');
    });
    const database = new URL(url).pathname.slice(1);
    const leftovers = await withClient(url, async (client) => {
      for (let i = 0; i < 50; i++) {
        const { rows } = await client.query<{ state: string; query: string }>(
          "SELECT state, query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' OR query LIKE 'UPDATE%')",
          [database],
        );
        if (rows.length === 0) return rows;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return (await client.query('SELECT state, query FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])).rows;
    });
    assert.deepEqual(leftovers, [], 'no session of the store is left in the abandoned transaction');
    assert.equal(await store.read((tx) => tx.get('locked', id).then((doc) => doc?.json)), JSON.stringify({ n: 1 }), 'the timed-out write did not land');
  });

  test('a mutation whose code caught the error of a failed statement is not acknowledged (its COMMIT rolls back)', async (t) => {
    const opened = await openStore(t, 2);
    if (!opened) return;
    const { store } = opened;
    const number = await store.write((tx) => tx.ensureTable('dupes'), { timeoutMs: 5_000 });
    const [a, b] = [newId(number), newId(number)];
    await assert.rejects(
      store.write(async (tx) => {
        await tx.insert('dupes', write(a, 1));
        // A duplicate id: the statement fails, and PostgreSQL aborts the transaction.
        await tx.insert('dupes', write(a, 2)).catch(() => {});
        await tx.insert('dupes', write(b, 3)).catch(() => {});
        return 'looks fine';
      }, { timeoutMs: 5_000 }),
      /rolled back/,
    );
    assert.equal(await store.read((tx) => tx.get('dupes', a)), null);
  });

  test('index backfill reads and writes in batches: one UPDATE per batch of documents, not one per row', async (t) => {
    const opened = await openStore(t, 2);
    if (!opened) return;
    const { store, url } = opened;
    const TOTAL = BACKFILL_BATCH * 2 + 37;
    const number = await store.write((tx) => tx.ensureTable('bulk'), { timeoutMs: 5_000 });
    const ids: string[] = [];
    await store.write(async (tx) => {
      for (let i = 0; i < TOTAL; i++) {
        const id = newId(number);
        ids.push(id);
        await tx.insert('bulk', write(id, TOTAL - i));
      }
    }, { timeoutMs: 60_000 });
    const index = { name: 'by_n', fields: ['n'] };
    const statements = await withClient(url, async (client) => {
      await client.query(`ALTER TABLE ${pgTable('bulk')} ADD COLUMN ${pgKeyColumn('by_n')} BYTEA`);
      const seen: string[] = [];
      const counting = { query: ((text: string, values: unknown[]) => (seen.push(text.split(' ')[0]!), client.query(text, values))) as pg.ClientBase['query'] };
      await backfill(counting, 'bulk', index);
      return seen;
    });
    // Three batches: a SELECT and an UPDATE each (the last batch is short, so no fourth SELECT).
    assert.deepEqual(statements, ['SELECT', 'UPDATE', 'SELECT', 'UPDATE', 'SELECT', 'UPDATE']);
    const rows = await withClient(url, async (client) => (await client.query<{ id: string; k: Buffer | null; creation_time: number }>(`SELECT id, creation_time, ${pgKeyColumn('by_n')} AS k FROM ${pgTable('bulk')}`)).rows);
    assert.equal(rows.length, TOTAL);
    for (const row of rows) {
      const n = TOTAL - ids.indexOf(row.id);
      assert.deepEqual(row.k, indexKey({ n }, index, row.creation_time, row.id), `the key of ${row.id}`);
    }
  });
});

test('a database written when PostgreSQL cut long names at 63 bytes is renamed to the hashed names when a store connects', async (t) => {
  const url = await freshDatabase(t);
  if (!url) return;
  const table = `${'x'.repeat(62)}a1`;
  const index = `by_${'f'.repeat(59)}n1`;
  // The layout an earlier version left: `t_<table>` and `k_<index>` cut by the server.
  const first = await PostgresStore.connect(url, 2);
  await first.close();
  const number = 41;
  const id = newId(number);
  const key = indexKey({ n: 5 }, { name: index, fields: ['n'] }, 1000, id);
  await withClient(url, async (client) => {
    await client.query('INSERT INTO _portico_tables (name, number) VALUES ($1, $2)', [table, number]);
    await client.query('INSERT INTO _portico_indexes (table_name, index_name, fields) VALUES ($1, $2, $3)', [table, index, JSON.stringify(['n'])]);
    await client.query(`CREATE TABLE "t_${table}" (id TEXT PRIMARY KEY, creation_time DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL, k_by_creation_time BYTEA NOT NULL, "k_${index}" BYTEA)`);
    await client.query(`INSERT INTO "t_${table}" VALUES ($1, 1000, $2, $3, $4)`, [id, JSON.stringify({ n: 5 }), indexKey({}, { name: 'by_creation_time', fields: [] }, 1000, id), key]);
  });
  const store = await PostgresStore.connect(url, 2);
  t.after(() => store.close());
  const found = await store.read(async (tx) => ({
    doc: (await tx.get(table, id))?.json,
    scanned: (await tx.scan({ table, index, range: { lower: null, lowerInclusive: true, upper: null, upperInclusive: true }, order: 'asc', limit: 10 })).map((row) => row.id),
  }));
  assert.deepEqual(found, { doc: JSON.stringify({ n: 5 }), scanned: [id] });
  // Connecting again changes nothing.
  const again = await PostgresStore.connect(url, 2);
  await again.close();
});
