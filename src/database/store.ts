import type { Value } from '../values/value.js';
import type { CommitFeed } from './write-set.js';

// The storage engine under `ctx.db`: a few transactional primitives over
// tables of documents with index key columns. SQLite and PostgreSQL each
// implement it (sqlite/, postgres/); everything Convex-shaped (ids,
// validation, the query builder, pagination) lives above it, once.
//
// Layout, the same in both databases: one SQL table per document table with
// `id`, `creation_time`, `doc` (the user fields as convex_encoded_json) and
// one key column per index holding encodeKey([...indexed fields,
// _creationTime, _id]), with a real SQL index on it. A withIndex range is a
// range scan over that column; memcmp order of the keys is Convex's order of
// the values.

export const CREATION_INDEX = 'by_creation_time';

export interface IndexSpec {
  name: string;
  /** Document field paths (dotted for nested fields). */
  fields: string[];
}

export interface StoredDocument {
  id: string;
  creationTime: number;
  /** The user fields, convex_encoded_json. */
  json: string;
}

export interface ScannedDocument extends StoredDocument {
  /** The index key the scan ordered by (a cursor position). */
  key: Buffer;
}

/** A half-open or closed interval of index keys; null means unbounded. */
export interface KeyRange {
  lower: Buffer | null;
  lowerInclusive: boolean;
  upper: Buffer | null;
  upperInclusive: boolean;
}

export interface ScanRequest {
  table: string;
  index: string;
  range: KeyRange;
  order: 'asc' | 'desc';
  limit: number;
}

/** A document about to be written: stored form plus decoded fields for its index keys. */
export interface DocumentWrite extends StoredDocument {
  fields: Record<string, Value>;
}

export interface ReadTx {
  /** The table an id's number belongs to, as this transaction sees the catalog; null when none. */
  tableName(number: number): Promise<string | null>;
  get(table: string, id: string): Promise<StoredDocument | null>;
  scan(request: ScanRequest): Promise<ScannedDocument[]>;
}

export interface WriteTx extends ReadTx {
  /** The table's number, creating the table first if this is its first document. */
  ensureTable(table: string): Promise<number>;
  insert(table: string, document: DocumentWrite): Promise<void>;
  replace(table: string, document: DocumentWrite): Promise<void>;
  delete(table: string, id: string): Promise<boolean>;
  /** Runs `fn` so that if it throws, its writes are undone and the rest of the transaction goes on. */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Reads a document and locks it until this transaction ends, or answers
   * 'locked' at once when another transaction holds it (PostgreSQL's FOR
   * UPDATE SKIP LOCKED: job claims across instances). Absent where writes
   * are serialized anyway (SQLite): tx.get is the same there.
   */
  getForUpdate?(table: string, id: string): Promise<StoredDocument | null | 'locked'>;
  /**
   * Runs `hook` once this transaction has committed, for effects outside the
   * database that must follow the commit (removing a deleted file's bytes).
   * Dropped if the transaction, or the savepoint it was registered in, rolls back.
   */
  onCommit(hook: () => void): void;
}

/** The onCommit bookkeeping every WriteTx shares. */
export class CommitHooks {
  private hooks: (() => void)[] = [];

  add(hook: () => void): void {
    this.hooks.push(hook);
  }

  /** A savepoint's starting point, to drop the hooks registered inside it. */
  mark(): number {
    return this.hooks.length;
  }

  rollbackTo(mark: number): void {
    this.hooks.length = mark;
  }

  /** After the commit: runs each hook once; one that throws does not stop the others. */
  run(): void {
    for (const hook of this.hooks.splice(0)) {
      try {
        hook();
      } catch {
        // A commit hook's failure cannot undo the commit; its own code logs.
      }
    }
  }
}

export interface WriteOptions {
  /** Abandon (and roll back) the transaction after this long. */
  timeoutMs: number;
}

export interface ReadOptions {
  /** Abandon the snapshot (and give its connection back) after this long. */
  timeoutMs: number;
}

/** File bytes as numbered chunk rows, each write autocommitted. */
export interface FileChunks {
  put(storageId: string, seq: number, bytes: Uint8Array): Promise<void>;
  /** Chunks `from`..`to` (inclusive) of a file, in order. */
  get(storageId: string, from: number, to: number): Promise<Buffer[]>;
  delete(storageId: string): Promise<void>;
  /** Files whose chunks exist but whose metadata never committed (crashed uploads), older than `ageMs`. */
  orphans(ageMs: number): Promise<string[]>;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Where file bytes go for storage.kind: database; only a shared (PostgreSQL) store has it. */
  readonly fileChunks?: FileChunks;
  /** The number ids of `table` carry, or null when the table does not exist. */
  tableNumber(table: string): Promise<number | null>;
  /** The table an id's number belongs to, or null. */
  tableName(number: number): Promise<string | null>;
  /**
   * The committed table with this number if this process already knows it,
   * without a lookup (synchronous checks such as normalizeId and v.id use
   * it); undefined when it does not know.
   */
  cachedTableName(number: number): string | undefined;
  /** Makes the tables and indexes exist, backfilling new index columns. */
  applySchema(tables: readonly { name: string; indexes: IndexSpec[] }[]): Promise<void>;
  /** User indexes of a table as the database has them (by_creation_time excluded). */
  indexesOf(table: string): readonly IndexSpec[] | null;
  /**
   * Runs `fn` on one consistent read-only snapshot. With a timeout, `fn` is
   * abandoned after it (its handle closed, the snapshot given back) and the
   * promise rejects with a TransactionTimeoutError.
   */
  read<T>(fn: (tx: ReadTx) => Promise<T>, options?: ReadOptions): Promise<T>;
  /**
   * Runs `fn` as one serializable transaction and resolves once it is
   * durably committed. `fn` may run more than once (conflict retries), so it
   * must not have effects outside the transaction.
   */
  write<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T>;
  /** What each commit changed, announced once it is visible to readers (the query caches listen). */
  readonly commits: CommitFeed;
  /**
   * Makes sure every commit acknowledged anywhere (other processes and
   * instances included) before this call has been announced on `commits`.
   * False when that cannot be known now (the connection that hears other
   * instances is down): the caller must not trust what it cached.
   */
  catchUp(): boolean | Promise<boolean>;
  /** A small key/value table for the deployment's own secrets and settings. */
  getMeta(key: string): Promise<string | null>;
  /** Sets `key` unless it has a value already; returns the value that is stored. */
  initMeta(key: string, value: string): Promise<string>;
  close(): Promise<void>;
}

/** A mutation ran past its time limit and was rolled back. */
export class TransactionTimeoutError extends Error {
  override name = 'TransactionTimeoutError';
}

/**
 * The database cannot be reached (refused, restarting, connection lost, or
 * no pooled connection free in time). Callers answer 503: trying again
 * shortly, or on another instance, may succeed. A mutation that fails so was
 * not acknowledged; `mayHaveCommitted` says its COMMIT was already sent.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  constructor(
    message: string,
    readonly mayHaveCommitted = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A closed transaction handle, used by a function that outlived its transaction. */
export function transactionOver(): Error {
  return new Error('This transaction is over: the function ran past its time limit or kept using ctx.db after it returned');
}

/** Identifier quoting for the (validated) table and index names. */
export function sqlTable(table: string): string {
  return `"t_${table}"`;
}

export function sqlKeyColumn(index: string): string {
  return `"k_${index}"`;
}

export function sqlIndexName(table: string, index: string): string {
  return `"t_${table}__${index}"`;
}
