import type { StatementCache } from './sqlite-statements.js';
import type { CatalogView, CreatedTable } from './sqlite-catalog.js';
import { indexKey, creationKey } from '../index-keys.js';
import {
  CommitHooks,
  CREATION_INDEX,
  transactionOver,
  sqlKeyColumn,
  sqlTable,
  type DocumentWrite,
  type IndexSpec,
  type ScanRequest,
  type ScannedDocument,
  type StoredDocument,
  type WriteTx,
} from '../store.js';
import { WriteSet } from '../write-set.js';

// Reads and writes on one SQLite connection, inside a transaction the store
// opened. Statements are prepared once per connection and reused. A handle
// is closed when its transaction ends; code still holding it (a mutation
// that outlived its time limit) gets an error instead of writing into
// someone else's transaction.

export interface TableCatalog {
  /** Whether the table exists (as seen by this connection). */
  exists(view: CatalogView, table: string): boolean;
  numberOf(view: CatalogView, table: string): number | null;
  nameOf(view: CatalogView, number: number): string | null;
  /** Its user indexes. */
  indexes(view: CatalogView, table: string): readonly IndexSpec[];
  /** Creates the table within the current transaction, for a first insert. */
  create(view: CatalogView, table: string, created: CreatedTable[]): number;
}

interface Row {
  id: string;
  creation_time: number;
  doc: string;
  k?: Buffer;
}

// Savepoint names are unique in the process, never reused by a later
// transaction: a mutation that outlived its own (it timed out, and the lane
// went on with the next one on the same connection) cannot name, release or
// roll back a savepoint of the mutation that runs now.
let savepointCounter = 0;

export class SqliteTx implements WriteTx {
  private closed = false;
  private readonly view: CatalogView;
  /** Tables this transaction created (and did not roll back): the store remembers them once it commits. */
  readonly created: CreatedTable[] = [];
  readonly commitHooks = new CommitHooks();
  /** What this transaction wrote, for the query caches (a rolled-back savepoint's writes stay: over-telling is safe). */
  readonly writes = new WriteSet();

  /** `since`: for a read snapshot, the catalog tick when it began; null for the write connection. */
  constructor(
    private readonly statements: StatementCache,
    private readonly catalog: TableCatalog,
    since: number | null,
  ) {
    this.view = { statements, since };
  }

  close(): void {
    this.closed = true;
  }

  async tableName(number: number): Promise<string | null> {
    this.check();
    for (const table of this.created) if (table.number === number) return table.name;
    return this.catalog.nameOf(this.view, number);
  }

  async get(table: string, id: string): Promise<StoredDocument | null> {
    this.check();
    if (!this.catalog.exists(this.view, table)) return null;
    const row = this.statements.get(`SELECT id, creation_time, doc FROM ${sqlTable(table)} WHERE id = ?`).get(id) as Row | undefined;
    return row ? { id: row.id, creationTime: row.creation_time, json: row.doc } : null;
  }

  async scan(request: ScanRequest): Promise<ScannedDocument[]> {
    this.check();
    if (!this.catalog.exists(this.view, request.table)) return [];
    const { sql, params } = scanStatement(request);
    const rows = this.statements.get(sql).all(...params) as Row[];
    return rows.map((row) => ({ id: row.id, creationTime: row.creation_time, json: row.doc, key: row.k! }));
  }

  async ensureTable(table: string): Promise<number> {
    this.check();
    // Created inside this transaction: it disappears if the transaction rolls back.
    const before = this.created.length;
    const number = this.catalog.create(this.view, table, this.created);
    if (this.created.length > before) this.writes.catalog = true;
    return number;
  }

  async insert(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    await this.ensureTable(table);
    const indexes = this.catalog.indexes(this.view, table);
    const columns = ['id', 'creation_time', 'doc', sqlKeyColumn(CREATION_INDEX), ...indexes.map((index) => sqlKeyColumn(index.name))];
    const keys = new Map([[CREATION_INDEX, creationKey(document.creationTime, document.id)]]);
    for (const index of indexes) keys.set(index.name, indexKey(document.fields, index, document.creationTime, document.id));
    const values: unknown[] = [document.id, document.creationTime, document.json, ...keys.values()];
    this.statements.get(`INSERT INTO ${sqlTable(table)} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...values);
    this.writes.written(table, document.id, keys);
  }

  async replace(table: string, document: DocumentWrite): Promise<void> {
    this.check();
    const indexes = this.catalog.indexes(this.view, table);
    const sets = ['doc = ?', ...indexes.map((index) => `${sqlKeyColumn(index.name)} = ?`)];
    const keys = new Map([[CREATION_INDEX, creationKey(document.creationTime, document.id)]]);
    for (const index of indexes) keys.set(index.name, indexKey(document.fields, index, document.creationTime, document.id));
    const values: unknown[] = [document.json, ...[...keys.values()].slice(1), document.id];
    const result = this.statements.get(`UPDATE ${sqlTable(table)} SET ${sets.join(', ')} WHERE id = ?`).run(...values);
    if (result.changes !== 1) throw new Error(`Document ${document.id} does not exist in table "${table}"`);
    this.writes.written(table, document.id, keys);
  }

  async delete(table: string, id: string): Promise<boolean> {
    this.check();
    if (!this.catalog.exists(this.view, table)) return false;
    const deleted = this.statements.get(`DELETE FROM ${sqlTable(table)} WHERE id = ?`).run(id).changes === 1;
    if (deleted) this.writes.deleted(table, id);
    return deleted;
  }

  onCommit(hook: () => void): void {
    this.check();
    this.commitHooks.add(hook);
  }

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    const name = `nested_${++savepointCounter}`;
    const { db } = this.statements;
    const createdBefore = this.created.length;
    const hooksBefore = this.commitHooks.mark();
    db.exec(`SAVEPOINT ${name}`);
    try {
      const value = await fn();
      // Closed meanwhile: the connection now serves another transaction.
      this.check();
      db.exec(`RELEASE ${name}`);
      return value;
    } catch (error) {
      if (!this.closed) {
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
        // Tables created inside the savepoint are gone again, and its commit hooks with them.
        this.created.length = createdBefore;
        this.commitHooks.rollbackTo(hooksBefore);
      }
      throw error;
    }
  }

  private check(): void {
    if (this.closed) throw transactionOver();
  }
}

/**
 * The SQL of an index range scan: a range over one key column, ordered by
 * it, which SQLite answers from that column's index. Exported so the plan
 * of exactly this statement can be checked (EXPLAIN QUERY PLAN).
 */
export function scanStatement(request: ScanRequest): { sql: string; params: unknown[] } {
  const column = sqlKeyColumn(request.index);
  const where: string[] = [];
  const params: unknown[] = [];
  const { range } = request;
  if (range.lower) {
    where.push(`${column} ${range.lowerInclusive ? '>=' : '>'} ?`);
    params.push(range.lower);
  }
  if (range.upper) {
    where.push(`${column} ${range.upperInclusive ? '<=' : '<'} ?`);
    params.push(range.upper);
  }
  // The limit is written into the SQL, not bound: SQLite lets a bound LIMIT
  // steer the plan, so every new binding re-prepared the statement on its
  // next step (measured: a store read took 11 µs with the re-plan, 5.7 µs
  // without). Limits are batch sizes, a handful of values.
  if (!Number.isSafeInteger(request.limit) || request.limit < 0) throw new RangeError(`Scan limit must be a non-negative integer, got ${request.limit}`);
  const sql =
    `SELECT id, creation_time, doc, ${column} AS k FROM ${sqlTable(request.table)}` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${column} ${request.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ${request.limit}`;
  return { sql, params };
}
