import type pg from 'pg';
import type { IndexSpec } from '../store.js';
import { backfill } from './backfill.js';
import { pgIndexName, pgKeyColumn, pgTable } from './identifiers.js';
import type { PostgresCatalog } from './postgres-catalog.js';
import { TABLE_NUMBERS, tableDdl } from './postgres-tx.js';

// Schema changes (functions/schema.ts applied at start and on reload), on
// the connection of a DDL transaction the store holds under its advisory
// lock: tables declared by the schema, and their index key columns.

async function createTable(client: pg.PoolClient, catalog: PostgresCatalog, table: string): Promise<void> {
  const existing = await client.query<{ number: number }>('SELECT number FROM _portico_tables WHERE name = $1', [table]);
  if (existing.rows[0]) {
    catalog.remember(table, existing.rows[0].number);
    return;
  }
  const { rows } = await client.query<{ number: string }>(`SELECT nextval('${TABLE_NUMBERS}') AS number`);
  const number = Number(rows[0]!.number);
  await client.query('INSERT INTO _portico_tables (name, number) VALUES ($1, $2)', [table, number]);
  await client.query(tableDdl(table));
  // Remembered although not yet committed: the schema is applied before
  // any function runs, and a failure here stops the start or the reload.
  catalog.remember(table, number);
}

/** Creates the table if need be, then adds (and backfills) or drops key columns so its indexes match `wanted`. */
export async function syncIndexes(client: pg.PoolClient, catalog: PostgresCatalog, table: string, wanted: readonly IndexSpec[]): Promise<boolean> {
  await createTable(client, catalog, table);
  const { rows } = await client.query<{ index_name: string; fields: string }>('SELECT index_name, fields FROM _portico_indexes WHERE table_name = $1', [table]);
  const current = new Map(rows.map((row) => [row.index_name, JSON.parse(row.fields) as string[]]));
  let changed = false;
  for (const [name, fields] of current) {
    const next = wanted.find((index) => index.name === name);
    if (next && JSON.stringify(next.fields) === JSON.stringify(fields)) continue;
    // Dropping the column drops its SQL index, whatever it was named.
    await client.query(`ALTER TABLE ${pgTable(table)} DROP COLUMN IF EXISTS ${pgKeyColumn(name)}`);
    await client.query('DELETE FROM _portico_indexes WHERE table_name = $1 AND index_name = $2', [table, name]);
    current.delete(name);
    changed = true;
  }
  for (const index of wanted) {
    if (current.has(index.name)) continue;
    await client.query(`ALTER TABLE ${pgTable(table)} ADD COLUMN IF NOT EXISTS ${pgKeyColumn(index.name)} BYTEA`);
    await backfill(client, table, index);
    await client.query(`CREATE INDEX IF NOT EXISTS ${pgIndexName(table, index.name)} ON ${pgTable(table)} (${pgKeyColumn(index.name)})`);
    await client.query('INSERT INTO _portico_indexes (table_name, index_name, fields) VALUES ($1, $2, $3)', [table, index.name, JSON.stringify(index.fields)]);
    changed = true;
  }
  return changed;
}

/**
 * Databases written before long names were shortened by a hash: PostgreSQL
 * had cut `t_<table>` and `k_<index>` at 63 bytes. Their tables and key
 * columns are renamed to today's names, once, when a store connects (under
 * the DDL lock). A table whose old name was shared with another (both were
 * cut to one) goes to the first; the other starts empty.
 */
export async function renameCutIdentifiers(client: pg.PoolClient): Promise<void> {
  const exists = async (relation: string) =>
    (await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [`"${relation}"`])).rows[0]!.found;
  const { rows: tables } = await client.query<{ name: string }>('SELECT name FROM _portico_tables');
  for (const { name } of tables) {
    const [cut, current] = [`t_${name}`.slice(0, 63), unquoted(pgTable(name))];
    if (cut === current || (await exists(current))) continue;
    if (await exists(cut)) await client.query(`ALTER TABLE "${cut}" RENAME TO "${current}"`);
    else await client.query(tableDdl(name));
  }
  const { rows: indexes } = await client.query<{ table_name: string; index_name: string }>('SELECT table_name, index_name FROM _portico_indexes');
  for (const { table_name: table, index_name: index } of indexes) {
    const [cut, current] = [`k_${index}`.slice(0, 63), unquoted(pgKeyColumn(index))];
    if (cut === current) continue;
    const { rows } = await client.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = ANY($2)',
      [unquoted(pgTable(table)), [cut, current]],
    );
    const columns = new Set(rows.map((row) => row.column_name));
    if (columns.has(cut) && !columns.has(current)) await client.query(`ALTER TABLE ${pgTable(table)} RENAME COLUMN "${cut}" TO "${current}"`);
  }
}

function unquoted(identifier: string): string {
  return identifier.slice(1, -1);
}
