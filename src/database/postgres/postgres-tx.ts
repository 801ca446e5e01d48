import { createHash } from 'node:crypto';
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { indexKey, creationKey } from '../index-keys.js';
import {
  CommitHooks,
  CREATION_INDEX,
  transactionOver,
  type DocumentWrite,
  type IndexSpec,
  type ScanRequest,
  type ScannedDocument,
  type StoredDocument,
  type WriteTx,
} from '../store.js';
import type { PostgresCatalog } from './postgres-catalog.js';
import { pgIndexName, pgKeyColumn, pgTable } from './identifiers.js';
import { WriteSet } from '../write-set.js';

// Reads and writes on one pooled PostgreSQL connection, inside a transaction
// the store opened. Same layout as SQLite: bytea key columns compare
// bytewise, which is the order of the encoded values.
//
// Everything a transaction does runs on its own connection, catalog lookups
// and table creation included: a transaction that waited on the pool for a
// second connection while holding one wedged small pools for good.

/** Serializes table creation across transactions and instances (and schema changes: see the store). */
export const DDL_LOCK = 0x706f7274; // "port"
export const TABLE_NUMBERS = '_portico_table_numbers';

interface Row {
  id: string;
  creation_time: number;
  doc: string;
  k?: Buffer;
}

/**
 * Thrown (and remembered) when this transaction's snapshot is older than a
 * table another transaction just created: the store runs it again. SQLSTATE
 * 40001, so it takes the path of any serialization failure.
 */
class StaleCatalogError extends Error {
  readonly code = '40001';
}

// Savepoint names are unique in the process, never reused by a later
// transaction, so code that outlived its own cannot name a later one's.
let savepointCounter = 0;

export class PostgresTx implements WriteTx {
  private closed = false;
  /** Tables this transaction created: the catalog learns them once it commits. */
  readonly created = new Map<string, number>();
  /** Tables absent from this transaction's snapshot, looked up once. */
  private readonly missing = new Set<string>();
  /** Set when the transaction must run again whatever its function did with the error. */
  retry: Error | null = null;
  /** Statements sent and not yet answered. */
  pending = 0;
  /** A statement failed and no savepoint rollback has recovered the transaction since: COMMIT will roll back. */
  aborted = false;
  /** What this transaction wrote, for the query caches (a rolled-back savepoint's writes stay: over-telling is safe). */
  readonly writes = new WriteSet();
  // A connection runs one statement at a time; functions that read in
  // parallel (Promise.all of db.get) have their statements queued here
  // rather than by pg, which is deprecated and goes away in pg 9.
  private last: Promise<unknown> = Promise.resolve();
  private readonly indexGeneration: number;

  constructor(
    private readonly client: PoolClient,
    private readonly catalog: PostgresCatalog,
  ) {
    this.indexGeneration = catalog.indexGeneration;
  }

  close(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async tableName(number: number): Promise<string | null> {
    this.check();
    const known = this.catalog.names.get(number);
    if (known !== undefined) return known;
    for (const [name, created] of this.created) if (created === number) return name;
    const { rows } = await this.run<{ name: string }>(prepared('SELECT name FROM _portico_tables WHERE number = $1', [number]));
    if (!rows[0]) return null;
    // Visible in this snapshot and not created here: committed.
    this.catalog.remember(rows[0].name, number);
    return rows[0].name;
  }

  async get(table: string, id: string): Promise<StoredDocument | null> {
    this.check();
    if ((await this.numberOf(table)) === null) return null;
    const { rows } = await this.run<Row>(prepared(`SELECT id, creation_time, doc FROM ${pgTable(table)} WHERE id = $1`, [id]));
    const row = rows[0];
    return row ? { id: row.id, creationTime: row.creation_time, json: row.doc } : null;
  }

  async getForUpdate(table: string, id: string): Promise<StoredDocument | null | 'locked'> {
    this.check();
    if ((await this.numberOf(table)) === null) return null;
    const { rows } = await this.run<Row>(prepared(`SELECT id, creation_time, doc FROM ${pgTable(table)} WHERE id = $1 FOR UPDATE SKIP LOCKED`, [id]));
    const row = rows[0];
    if (row) return { id: row.id, creationTime: row.creation_time, json: row.doc };
    // Skipped: held by another transaction, or not there at all.
    const { rows: present } = await this.run<{ one: number }>(prepared(`SELECT 1 AS one FROM ${pgTable(table)} WHERE id = $1`, [id]));
    return present.length > 0 ? 'locked' : null;
  }

  async scan(request: ScanRequest): Promise<ScannedDocument[]> {
    this.check();
    if ((await this.numberOf(request.table)) === null) return [];
    const { text, values } = scanStatement(request);
    const { rows } = await this.run<Row>(prepared(text, values));
    return rows.map((row) => ({ id: row.id, creationTime: row.creation_time, json: row.doc, key: row.k! }));
  }

  async ensureTable(table: string): Promise<number> {
    this.check();
    return (await this.numberOf(table)) ?? this.createTable(table);
  }

  async insert(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    await this.ensureTable(table);
    const indexes = await this.indexes(table);
    const columns = ['id', 'creation_time', 'doc', pgKeyColumn(CREATION_INDEX), ...indexes.map((index) => pgKeyColumn(index.name))];
    const keys = new Map([[CREATION_INDEX, creationKey(document.creationTime, document.id)]]);
    for (const index of indexes) keys.set(index.name, indexKey(document.fields, index, document.creationTime, document.id));
    const values: unknown[] = [document.id, document.creationTime, document.json, ...keys.values()];
    const text = `INSERT INTO ${pgTable(table)} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
    await this.run(prepared(text, values));
    this.writes.written(table, document.id, keys);
  }

  async replace(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    const indexes = await this.indexes(table);
    const sets = ['doc = $1', ...indexes.map((index, i) => `${pgKeyColumn(index.name)} = $${i + 2}`)];
    const keys = new Map([[CREATION_INDEX, creationKey(document.creationTime, document.id)]]);
    for (const index of indexes) keys.set(index.name, indexKey(document.fields, index, document.creationTime, document.id));
    const values: unknown[] = [document.json, ...[...keys.values()].slice(1), document.id];
    const text = `UPDATE ${pgTable(table)} SET ${sets.join(', ')} WHERE id = $${values.length}`;
    const result = await this.run(prepared(text, values));
    if (result.rowCount !== 1) throw new Error(`Document ${document.id} does not exist in table "${table}"`);
    this.writes.written(table, document.id, keys);
  }

  async delete(table: string, id: string): Promise<boolean> {
    this.check();
    if ((await this.numberOf(table)) === null) return false;
    const result = await this.run(prepared(`DELETE FROM ${pgTable(table)} WHERE id = $1`, [id]));
    if (result.rowCount === 1) this.writes.deleted(table, id);
    return result.rowCount === 1;
  }

  readonly commitHooks = new CommitHooks();

  onCommit(hook: () => void): void {
    this.check();
    this.commitHooks.add(hook);
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    const name = `nested_${++savepointCounter}`;
    const hooksBefore = this.commitHooks.mark();
    const createdBefore = new Set(this.created.keys());
    await this.run(`SAVEPOINT ${name}`);
    try {
      const value = await fn();
      await this.run(`RELEASE SAVEPOINT ${name}`);
      return value;
    } catch (error) {
      if (!this.closed) {
        await this.run(`ROLLBACK TO SAVEPOINT ${name}`);
        this.aborted = false;
        this.commitHooks.rollbackTo(hooksBefore);
        // Tables created inside the savepoint are gone again.
        for (const table of this.created.keys()) if (!createdBefore.has(table)) this.created.delete(table);
      }
      throw error;
    }
  }

  // --- catalog, on this transaction's connection ----------------------------

  private async numberOf(table: string): Promise<number | null> {
    const known = this.catalog.numbers.get(table) ?? this.created.get(table);
    if (known !== undefined) return known;
    if (this.missing.has(table)) return null;
    const { rows } = await this.run<{ number: number }>(prepared('SELECT number FROM _portico_tables WHERE name = $1', [table]));
    if (!rows[0]) {
      // Absent from this snapshot, so for the rest of this transaction. Not
      // remembered beyond it: another instance may create it any moment.
      this.missing.add(table);
      return null;
    }
    this.catalog.remember(table, rows[0].number);
    return rows[0].number;
  }

  /**
   * A table's first document: the table is created inside this transaction
   * (and disappears if it rolls back), as on SQLite. Creators wait for each
   * other on an advisory lock held to the end of their transactions; one
   * whose snapshot then misses a table committed meanwhile runs again.
   */
  private async createTable(table: string): Promise<number> {
    await this.run(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
    // The system catalogs are read at their latest, not at this snapshot.
    const { rows: found } = await this.run<{ exists: boolean }>(prepared('SELECT to_regclass($1) IS NOT NULL AS exists', [pgTable(table)]));
    if (found[0]!.exists) {
      this.retry = new StaleCatalogError(`Table "${table}" was created by a transaction that committed after this one began`);
      throw this.retry;
    }
    const { rows } = await this.run<{ number: string }>(`SELECT nextval('${TABLE_NUMBERS}') AS number`);
    const number = Number(rows[0]!.number);
    await this.run(prepared('INSERT INTO _portico_tables (name, number) VALUES ($1, $2)', [table, number]));
    await this.run(tableDdl(table));
    this.missing.delete(table);
    this.created.set(table, number);
    this.writes.catalog = true;
    return number;
  }

  private async indexes(table: string): Promise<readonly IndexSpec[]> {
    // A table created here has no user indexes yet (applySchema adds them).
    if (this.created.has(table)) return [];
    const cached = this.catalog.indexCache.get(table);
    if (cached) return cached;
    const { rows } = await this.run<{ index_name: string; fields: string }>(
      prepared('SELECT index_name, fields FROM _portico_indexes WHERE table_name = $1 ORDER BY index_name', [table]),
    );
    const indexes = rows.map((row) => ({ name: row.index_name, fields: JSON.parse(row.fields) as string[] }));
    // Not cached if a schema change landed since this snapshot began.
    if (this.catalog.indexGeneration === this.indexGeneration) this.catalog.indexCache.set(table, indexes);
    return indexes;
  }

  private run<R extends QueryResultRow = QueryResultRow>(query: QueryConfig | string): Promise<QueryResult<R>> {
    // Checked again when the statement's turn comes: one queued behind
    // others must not run after the transaction ended (the connection may
    // by then serve another transaction).
    const result = this.last.then(async () => {
      this.check();
      this.pending += 1;
      try {
        return await this.client.query<R>(query);
      } catch (error) {
        // PostgreSQL ignores every later statement until a ROLLBACK TO SAVEPOINT.
        this.aborted = true;
        throw error;
      } finally {
        this.pending -= 1;
      }
    });
    this.last = result.catch(() => {});
    return result;
  }

  private check(): void {
    if (this.closed) throw transactionOver();
  }
}

/** A document table and its creation-time index. */
export function tableDdl(table: string): string {
  return `
    CREATE TABLE ${pgTable(table)} (
      id TEXT PRIMARY KEY, creation_time DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL, ${pgKeyColumn(CREATION_INDEX)} BYTEA NOT NULL
    );
    CREATE INDEX ${pgIndexName(table, CREATION_INDEX)} ON ${pgTable(table)} (${pgKeyColumn(CREATION_INDEX)});
  `;
}

/**
 * The SQL of an index range scan: a range over one bytea key column, ordered
 * by it, which PostgreSQL answers from that column's btree index. Exported so
 * the plan of exactly this statement can be checked (EXPLAIN).
 */
export function scanStatement(request: ScanRequest): { text: string; values: unknown[] } {
  const column = pgKeyColumn(request.index);
  const where: string[] = [];
  const values: unknown[] = [];
  const { range } = request;
  if (range.lower) {
    values.push(range.lower);
    where.push(`${column} ${range.lowerInclusive ? '>=' : '>'} $${values.length}`);
  }
  if (range.upper) {
    values.push(range.upper);
    where.push(`${column} ${range.upperInclusive ? '<=' : '<'} $${values.length}`);
  }
  values.push(request.limit === Infinity ? null : request.limit);
  const text =
    `SELECT id, creation_time, doc, ${column} AS k FROM ${pgTable(request.table)}` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${column} ${request.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${values.length}`;
  return { text, values };
}

// Statements are prepared once per connection under a name. PostgreSQL cuts
// names at 63 bytes and pg reuses a statement by name, so the name is a
// short hash of the text rather than the text.
const names = new Map<string, string>();
export function prepared(text: string, values: unknown[]): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `p_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}
