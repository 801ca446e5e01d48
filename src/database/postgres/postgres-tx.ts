import { createHash } from 'node:crypto';
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { indexKey, creationKey } from '../index-keys.js';
import {
  CommitHooks,
  CREATION_INDEX,
  sqlKeyColumn,
  sqlTable,
  type DocumentWrite,
  type IndexSpec,
  type ScanRequest,
  type ScannedDocument,
  type StoredDocument,
  type WriteTx,
} from '../store.js';

// Reads and writes on one pooled PostgreSQL connection, inside a transaction
// the store opened. Same layout as SQLite: bytea key columns compare
// bytewise, which is the order of the encoded values.

export interface PostgresCatalog {
  /** Known or looked up; null when the table does not exist. */
  numberOf(table: string): Promise<number | null>;
  /** Creates the table outside this transaction (DDL, autocommitted). */
  create(table: string): Promise<number>;
  indexes(table: string): Promise<readonly IndexSpec[]>;
}

interface Row {
  id: string;
  creation_time: number;
  doc: string;
  k?: Buffer;
}

export class PostgresTx implements WriteTx {
  private closed = false;
  private savepoints = 0;
  // A connection runs one statement at a time; functions that read in
  // parallel (Promise.all of db.get) have their statements queued here
  // rather than by pg, which is deprecated and goes away in pg 9.
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: PoolClient,
    private readonly catalog: PostgresCatalog,
  ) {}

  close(): void {
    this.closed = true;
  }

  async get(table: string, id: string): Promise<StoredDocument | null> {
    this.check();
    if ((await this.catalog.numberOf(table)) === null) return null;
    const { rows } = await this.run<Row>(prepared(`SELECT id, creation_time, doc FROM ${sqlTable(table)} WHERE id = $1`, [id]));
    const row = rows[0];
    return row ? { id: row.id, creationTime: row.creation_time, json: row.doc } : null;
  }

  async scan(request: ScanRequest): Promise<ScannedDocument[]> {
    this.check();
    if ((await this.catalog.numberOf(request.table)) === null) return [];
    const { text, values } = scanStatement(request);
    const { rows } = await this.run<Row>(prepared(text, values));
    return rows.map((row) => ({ id: row.id, creationTime: row.creation_time, json: row.doc, key: row.k! }));
  }

  async ensureTable(table: string): Promise<number> {
    this.check();
    return (await this.catalog.numberOf(table)) ?? this.catalog.create(table);
  }

  async insert(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    await this.ensureTable(table);
    const indexes = await this.catalog.indexes(table);
    const columns = ['id', 'creation_time', 'doc', sqlKeyColumn(CREATION_INDEX), ...indexes.map((index) => sqlKeyColumn(index.name))];
    const values: unknown[] = [document.id, document.creationTime, document.json, creationKey(document.creationTime, document.id)];
    for (const index of indexes) values.push(indexKey(document.fields, index, document.creationTime, document.id));
    const text = `INSERT INTO ${sqlTable(table)} (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
    await this.run(prepared(text, values));
  }

  async replace(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    const indexes = await this.catalog.indexes(table);
    const sets = ['doc = $1', ...indexes.map((index, i) => `${sqlKeyColumn(index.name)} = $${i + 2}`)];
    const values: unknown[] = [document.json];
    for (const index of indexes) values.push(indexKey(document.fields, index, document.creationTime, document.id));
    values.push(document.id);
    const text = `UPDATE ${sqlTable(table)} SET ${sets.join(', ')} WHERE id = $${values.length}`;
    const result = await this.run(prepared(text, values));
    if (result.rowCount !== 1) throw new Error(`Document ${document.id} does not exist in table "${table}"`);
  }

  async delete(table: string, id: string): Promise<boolean> {
    this.check();
    if ((await this.catalog.numberOf(table)) === null) return false;
    const result = await this.run(prepared(`DELETE FROM ${sqlTable(table)} WHERE id = $1`, [id]));
    return result.rowCount === 1;
  }

  readonly commitHooks = new CommitHooks();

  onCommit(hook: () => void): void {
    this.check();
    this.commitHooks.add(hook);
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    const name = `nested_${++this.savepoints}`;
    const hooksBefore = this.commitHooks.mark();
    await this.run(`SAVEPOINT ${name}`);
    try {
      const value = await fn();
      await this.run(`RELEASE SAVEPOINT ${name}`);
      return value;
    } catch (error) {
      if (!this.closed) {
        await this.run(`ROLLBACK TO SAVEPOINT ${name}`);
        this.commitHooks.rollbackTo(hooksBefore);
      }
      throw error;
    }
  }

  private run<R extends QueryResultRow = QueryResultRow>(query: QueryConfig | string): Promise<QueryResult<R>> {
    // Checked again when the statement's turn comes: one queued behind
    // others must not run after the transaction ended (the connection may
    // by then serve another transaction).
    const result = this.last.then(() => {
      this.check();
      return this.client.query<R>(query);
    });
    this.last = result.catch(() => {});
    return result;
  }

  private check(): void {
    if (this.closed) throw new Error('This transaction is over: the function ran past its time limit or kept using ctx.db after it returned');
  }
}

/**
 * The SQL of an index range scan: a range over one bytea key column, ordered
 * by it, which PostgreSQL answers from that column's btree index. Exported so
 * the plan of exactly this statement can be checked (EXPLAIN).
 */
export function scanStatement(request: ScanRequest): { text: string; values: unknown[] } {
  const column = sqlKeyColumn(request.index);
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
    `SELECT id, creation_time, doc, ${column} AS k FROM ${sqlTable(request.table)}` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${column} ${request.order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${values.length}`;
  return { text, values };
}

// Statements are prepared once per connection under a name. PostgreSQL cuts
// names at 63 bytes and pg reuses a statement by name, so the name is a
// short hash of the text rather than the text.
const names = new Map<string, string>();
function prepared(text: string, values: unknown[]): QueryConfig {
  let name = names.get(text);
  if (name === undefined) {
    name = `p_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values };
}
