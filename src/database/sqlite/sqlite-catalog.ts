import { jsonToConvex, type JSONValue, type Value } from '../../values/value.js';
import { indexKey } from '../index-keys.js';
import { CREATION_INDEX, sqlIndexName, sqlKeyColumn, sqlTable, type IndexSpec } from '../store.js';
import type { StatementCache } from './sqlite-statements.js';

// Which document tables exist, their numbers (for ids) and their indexes.
// The truth is in the database (_portico_tables, _portico_indexes), so
// several processes on one file agree; this keeps a cache of it.
//
// The cache holds committed facts only, because every connection must be
// able to trust it:
//  - A table created by a mutation exists for that transaction alone until
//    it commits (and never, if the mutation or a nested savepoint rolls
//    back). So a lookup on the write connection inside a transaction is not
//    cached; the store remembers the tables a write created once it commits.
//  - A read snapshot may predate a table's creation. Each fact carries the
//    tick at which it was remembered, and a reader that began before that
//    tick checks on its own connection instead of trusting the cache.

export const METADATA_DDL = `
  CREATE TABLE IF NOT EXISTS _portico_tables (name TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS _portico_indexes (table_name TEXT NOT NULL, index_name TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (table_name, index_name));
  CREATE TABLE IF NOT EXISTS _portico_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** A connection as the catalog sees it. */
export interface CatalogView {
  statements: StatementCache;
  /** For a read snapshot, the catalog tick when it began; null on the write connection. */
  since: number | null;
}

/** A table a write transaction created: remembered once the transaction commits. */
export interface CreatedTable {
  name: string;
  number: number;
}

interface Known<T> {
  value: T;
  /** The tick at which this fact was remembered. */
  at: number;
}

const BACKFILL_BATCH = 500;

export class SqliteCatalog {
  private readonly numbers = new Map<string, Known<number>>();
  private readonly names = new Map<number, Known<string>>();
  private readonly indexCache = new Map<string, IndexSpec[]>();
  private ticks = 0;

  /** Now, for a read snapshot about to begin. */
  get tick(): number {
    return this.ticks;
  }

  /** Drops every cached index list: another process changed the schema. */
  forgetIndexes(): void {
    this.indexCache.clear();
  }

  /** Reads every committed table; called at open, outside any transaction. */
  load(statements: StatementCache): void {
    const rows = statements.get('SELECT name, number FROM _portico_tables').all() as { name: string; number: number }[];
    for (const row of rows) this.remember(row.name, row.number);
  }

  exists(view: CatalogView, table: string): boolean {
    return this.numberOf(view, table) !== null;
  }

  numberOf(view: CatalogView, table: string): number | null {
    const known = this.numbers.get(table);
    if (known && (view.since === null || known.at <= view.since)) return known.value;
    const row = view.statements.get('SELECT number FROM _portico_tables WHERE name = ?').get(table) as { number: number } | undefined;
    if (!row) return null;
    if (!known && this.committed(view)) this.remember(table, row.number);
    return row.number;
  }

  nameOf(view: CatalogView, number: number): string | null {
    const known = this.names.get(number);
    if (known && (view.since === null || known.at <= view.since)) return known.value;
    const row = view.statements.get('SELECT name FROM _portico_tables WHERE number = ?').get(number) as { name: string } | undefined;
    if (!row) return null;
    if (!known && this.committed(view)) this.remember(row.name, number);
    return row.name;
  }

  /** The name of a committed table this process has seen, without a lookup. */
  cachedName(number: number): string | undefined {
    return this.names.get(number)?.value;
  }

  /**
   * A table's user indexes. Only schema changes (syncIndexes, which clears
   * this cache when it is done) write index metadata, so any connection's
   * answer holds until then.
   */
  indexes(view: CatalogView, table: string): readonly IndexSpec[] {
    let indexes = this.indexCache.get(table);
    if (!indexes) {
      const rows = view.statements.get('SELECT index_name, fields FROM _portico_indexes WHERE table_name = ? ORDER BY index_name').all(table) as { index_name: string; fields: string }[];
      indexes = rows.map((row) => ({ name: row.index_name, fields: JSON.parse(row.fields) as string[] }));
      this.indexCache.set(table, indexes);
    }
    return indexes;
  }

  /** Registers and creates a table in the write connection's current transaction. */
  create(view: CatalogView, table: string, created: CreatedTable[]): number {
    const existing = this.numberOf(view, table);
    if (existing !== null) return existing;
    const { db } = view.statements;
    const { next } = view.statements.get('SELECT COALESCE(MAX(number), 0) + 1 AS next FROM _portico_tables').get() as { next: number };
    view.statements.get('INSERT INTO _portico_tables (name, number) VALUES (?, ?)').run(table, next);
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${sqlTable(table)} (
        id TEXT PRIMARY KEY, creation_time REAL NOT NULL, doc TEXT NOT NULL, ${sqlKeyColumn(CREATION_INDEX)} BLOB NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${sqlIndexName(table, CREATION_INDEX)} ON ${sqlTable(table)} (${sqlKeyColumn(CREATION_INDEX)});
    `);
    this.indexCache.delete(table);
    created.push({ name: table, number: next });
    return next;
  }

  /** Remembers tables whose creating transaction has committed. */
  committedTables(created: readonly CreatedTable[]): void {
    for (const table of created) if (!this.numbers.has(table.name)) this.remember(table.name, table.number);
  }

  /**
   * Makes a table's user indexes match `wanted`: adds key columns (filled
   * from the existing documents) and SQL indexes, and removes indexes the
   * schema no longer declares. Runs inside the write connection's
   * transaction, without awaiting, so no mutation sees it half done.
   */
  syncIndexes(view: CatalogView, table: string, wanted: readonly IndexSpec[], created: CreatedTable[]): boolean {
    const { db } = view.statements;
    this.create(view, table, created);
    this.indexCache.delete(table);
    const rows = db.prepare('SELECT index_name, fields FROM _portico_indexes WHERE table_name = ?').all(table) as { index_name: string; fields: string }[];
    const current = new Map(rows.map((row) => [row.index_name, JSON.parse(row.fields) as string[]]));
    let changed = false;
    for (const [name, fields] of current) {
      const next = wanted.find((index) => index.name === name);
      if (next && JSON.stringify(next.fields) === JSON.stringify(fields)) continue;
      db.exec(`DROP INDEX IF EXISTS ${sqlIndexName(table, name)}; ALTER TABLE ${sqlTable(table)} DROP COLUMN ${sqlKeyColumn(name)};`);
      db.prepare('DELETE FROM _portico_indexes WHERE table_name = ? AND index_name = ?').run(table, name);
      current.delete(name);
      changed = true;
    }
    for (const index of wanted) {
      if (current.has(index.name)) continue;
      db.exec(`ALTER TABLE ${sqlTable(table)} ADD COLUMN ${sqlKeyColumn(index.name)} BLOB`);
      backfill(view, table, index);
      db.exec(`CREATE INDEX ${sqlIndexName(table, index.name)} ON ${sqlTable(table)} (${sqlKeyColumn(index.name)})`);
      db.prepare('INSERT INTO _portico_indexes (table_name, index_name, fields) VALUES (?, ?, ?)').run(table, index.name, JSON.stringify(index.fields));
      changed = true;
    }
    this.indexCache.delete(table);
    return changed;
  }

  private committed(view: CatalogView): boolean {
    // A read snapshot only ever sees committed rows; the write connection
    // does outside a transaction.
    return view.since !== null || !view.statements.db.inTransaction;
  }

  private remember(table: string, number: number): void {
    const at = ++this.ticks;
    this.numbers.set(table, { value: number, at });
    this.names.set(number, { value: table, at });
  }
}

/**
 * Fills a new key column from the documents already in the table, in
 * batches by id: a connection cannot run an UPDATE while it is still
 * iterating a SELECT, and a large table should not be read into memory whole.
 */
function backfill(view: CatalogView, table: string, index: IndexSpec): void {
  const { db } = view.statements;
  const select = db.prepare(`SELECT id, creation_time, doc FROM ${sqlTable(table)} WHERE id > ? ORDER BY id LIMIT ${BACKFILL_BATCH}`);
  const update = db.prepare(`UPDATE ${sqlTable(table)} SET ${sqlKeyColumn(index.name)} = ? WHERE id = ?`);
  let after = '';
  for (;;) {
    const rows = select.all(after) as { id: string; creation_time: number; doc: string }[];
    for (const row of rows) {
      const fields = jsonToConvex(JSON.parse(row.doc) as JSONValue) as Record<string, Value>;
      update.run(indexKey(fields, index, row.creation_time, row.id), row.id);
    }
    if (rows.length < BACKFILL_BATCH) return;
    after = rows[rows.length - 1]!.id;
  }
}
