import type pg from 'pg';
import { jsonToConvex, type JSONValue, type Value } from '../../values/value.js';
import { indexKey } from '../index-keys.js';
import type { IndexSpec } from '../store.js';
import { pgKeyColumn, pgTable } from './identifiers.js';

// Fills a new index's key column from the documents already in the table:
// a batch of documents at a time, in id order (memory stays constant
// however large the table), and one UPDATE per batch, not one per row.

export const BACKFILL_BATCH = 500;

type Queryable = Pick<pg.ClientBase, 'query'>;

export async function backfill(client: Queryable, table: string, index: IndexSpec): Promise<void> {
  const select = `SELECT id, creation_time, doc FROM ${pgTable(table)} WHERE id > $1 ORDER BY id LIMIT ${BACKFILL_BATCH}`;
  const update =
    `UPDATE ${pgTable(table)} AS t SET ${pgKeyColumn(index.name)} = b.k ` +
    'FROM unnest($1::text[], $2::bytea[]) AS b(id, k) WHERE t.id = b.id';
  let after = '';
  for (;;) {
    const { rows } = await client.query<{ id: string; creation_time: number; doc: string }>(select, [after]);
    if (rows.length === 0) return;
    const keys = rows.map((row) => indexKey(jsonToConvex(JSON.parse(row.doc) as JSONValue) as Record<string, Value>, index, row.creation_time, row.id));
    await client.query(update, [rows.map((row) => row.id), keys]);
    if (rows.length < BACKFILL_BATCH) return;
    after = rows[rows.length - 1]!.id;
  }
}
