import pg from 'pg';
import { PostgresStore } from '../../src/database/postgres/postgres-store.js';
import { scanStatement } from '../../src/database/postgres/postgres-tx.js';
import { pgIndexName, pgTable } from '../../src/database/postgres/identifiers.js';
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
