import type Database from 'better-sqlite3';
import { jsonToConvex, type JSONValue, type Value } from '../../values/value.js';
import { indexKey } from '../index-keys.js';
import { CREATION_INDEX, sqlIndexName, sqlKeyColumn, sqlTable, type IndexSpec } from '../store.js';
import type { TableCatalog } from './sqlite-tx.js';

// Which document tables exist, their numbers (for ids) and their indexes.
// The truth is in the database (_portico_tables, _portico_indexes), so
// several processes on one file agree; this keeps a cache of what it has
// seen, filled on a miss. Table creation happens inside the caller's
// transaction, and the caller forgets the table again if that rolls back.

export const METADATA_DDL = `
  CREATE TABLE IF NOT EXISTS _portico_tables (name TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS _portico_indexes (table_name TEXT NOT NULL, index_name TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (table_name, index_name));
  CREATE TABLE IF NOT EXISTS _portico_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export class SqliteCatalog implements TableCatalog {
  private readonly numbers = new Map<string, number>();
  private readonly names = new Map<number, string>();
  private readonly indexCache = new Map<string, IndexSpec[]>();

  exists(db: Database.Database, table: string): boolean {
    return this.numberOf(db, table) !== null;
  }

  numberOf(db: Database.Database, table: string): number | null {
    const cached = this.numbers.get(table);
    if (cached !== undefined) return cached;
    const row = db.prepare('SELECT number FROM _portico_tables WHERE name = ?').get(table) as { number: number } | undefined;
    if (!row) return null;
    this.remember(table, row.number);
    return row.number;
  }

  nameOf(db: Database.Database, number: number): string | null {
    const cached = this.names.get(number);
    if (cached !== undefined) return cached;
    const row = db.prepare('SELECT name FROM _portico_tables WHERE number = ?').get(number) as { name: string } | undefined;
    if (!row) return null;
    this.remember(row.name, number);
    return row.name;
  }

  indexes(db: Database.Database, table: string): readonly IndexSpec[] {
    let indexes = this.indexCache.get(table);
    if (!indexes) {
      const rows = db.prepare('SELECT index_name, fields FROM _portico_indexes WHERE table_name = ? ORDER BY index_name').all(table) as { index_name: string; fields: string }[];
      indexes = rows.map((row) => ({ name: row.index_name, fields: JSON.parse(row.fields) as string[] }));
      this.indexCache.set(table, indexes);
    }
    return indexes;
  }

  /** Registers and creates a table (in the current transaction). */
  create(db: Database.Database, table: string): number {
    const existing = this.numberOf(db, table);
    if (existing !== null) return existing;
    const { next } = db.prepare('SELECT COALESCE(MAX(number), 0) + 1 AS next FROM _portico_tables').get() as { next: number };
    db.prepare('INSERT INTO _portico_tables (name, number) VALUES (?, ?)').run(table, next);
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${sqlTable(table)} (
        id TEXT PRIMARY KEY, creation_time REAL NOT NULL, doc TEXT NOT NULL, ${sqlKeyColumn(CREATION_INDEX)} BLOB NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${sqlIndexName(table, CREATION_INDEX)} ON ${sqlTable(table)} (${sqlKeyColumn(CREATION_INDEX)});
    `);
    this.remember(table, next);
    return next;
  }

  /** Drops cached facts about a table whose creation was rolled back. */
  forget(table: string): void {
    const number = this.numbers.get(table);
    this.numbers.delete(table);
    if (number !== undefined) this.names.delete(number);
    this.indexCache.delete(table);
  }

  /**
   * Makes a table's user indexes match `wanted`: adds key columns (filled
   * from the existing documents) and SQL indexes, and removes indexes the
   * schema no longer declares. Runs inside the caller's transaction.
   */
  syncIndexes(db: Database.Database, table: string, wanted: readonly IndexSpec[]): boolean {
    this.create(db, table);
    this.indexCache.delete(table);
    const current = new Map(this.indexes(db, table).map((index) => [index.name, index]));
    let changed = false;
    for (const [name] of current) {
      const next = wanted.find((index) => index.name === name);
      if (next && JSON.stringify(next.fields) === JSON.stringify(current.get(name)!.fields)) continue;
      db.exec(`DROP INDEX IF EXISTS ${sqlIndexName(table, name)}; ALTER TABLE ${sqlTable(table)} DROP COLUMN ${sqlKeyColumn(name)};`);
      db.prepare('DELETE FROM _portico_indexes WHERE table_name = ? AND index_name = ?').run(table, name);
      current.delete(name);
      changed = true;
    }
    for (const index of wanted) {
      if (current.has(index.name)) continue;
      db.exec(`ALTER TABLE ${sqlTable(table)} ADD COLUMN ${sqlKeyColumn(index.name)} BLOB`);
      const update = db.prepare(`UPDATE ${sqlTable(table)} SET ${sqlKeyColumn(index.name)} = ? WHERE id = ?`);
      for (const row of db.prepare(`SELECT id, creation_time, doc FROM ${sqlTable(table)}`).iterate() as Iterable<{ id: string; creation_time: number; doc: string }>) {
        const fields = jsonToConvex(JSON.parse(row.doc) as JSONValue) as Record<string, Value>;
        update.run(indexKey(fields, index, row.creation_time, row.id), row.id);
      }
      db.exec(`CREATE INDEX ${sqlIndexName(table, index.name)} ON ${sqlTable(table)} (${sqlKeyColumn(index.name)})`);
      db.prepare('INSERT INTO _portico_indexes (table_name, index_name, fields) VALUES (?, ?, ?)').run(table, index.name, JSON.stringify(index.fields));
      changed = true;
    }
    this.indexCache.delete(table);
    return changed;
  }

  private remember(table: string, number: number): void {
    this.numbers.set(table, number);
    this.names.set(number, table);
  }
}
