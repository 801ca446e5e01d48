import type pg from 'pg';
import {
  DatabaseUnavailableError,
  TransactionTimeoutError,
  type FileChunks,
  type IndexSpec,
  type ReadOptions,
  type ReadTx,
  type Store,
  type WriteOptions,
  type WriteTx,
} from '../store.js';
import { registerHealthSource } from '../health.js';
import { isConnectionFailure } from './connection-errors.js';
import { ConnectionPool, describe, lostConnection } from './connection-pool.js';
import { PostgresFileChunks } from './file-chunks.js';
import { PostgresCatalog } from './postgres-catalog.js';
import { DDL_LOCK, PostgresTx, TABLE_NUMBERS } from './postgres-tx.js';
import { renameCutIdentifiers, syncIndexes } from './schema-changes.js';
import { CHANGES_CHANNEL, SCHEMA_CHANNEL, SchemaListener } from './schema-listener.js';
import { notifyStatement, parseAnnouncement } from './commit-announcement.js';
import { CommitFeed } from '../write-set.js';
import { activeMetrics } from '../../metrics/metrics.js';

// The shared store: several gateway instances (and worker processes) on one
// PostgreSQL database.
//  - A query runs in a REPEATABLE READ READ ONLY transaction: one snapshot.
//  - A mutation runs in a SERIALIZABLE transaction; a serialization failure
//    or deadlock rolls it back and runs it again, with jittered backoff, as
//    Convex re-runs mutations on OCC conflicts. Only mutations are retried.
//  - A transaction does all its work on the one connection it holds (see
//    postgres-tx.ts); schema changes run under an advisory lock, so
//    instances starting together do not race.
//  - The server may go away. Waiting for a connection is bounded
//    (connection-pool.ts); a connection lost
//    before COMMIT was sent runs the transaction again on a fresh one; any
//    other loss is a DatabaseUnavailableError (503), never an acknowledged
//    write. A transaction abandoned mid-statement has its connection
//    destroyed rather than left `idle in transaction`.

const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 60;
/** Fresh connections tried after a lost one, before giving up with a 503. */
const MAX_RECONNECTS = 2;
const STATEMENT_GRACE_MS = 1_000;

const METADATA_DDL = `
  CREATE TABLE IF NOT EXISTS _portico_tables (name TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS _portico_indexes (table_name TEXT NOT NULL, index_name TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (table_name, index_name));
  CREATE TABLE IF NOT EXISTS _portico_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS _portico_file_chunks (
    storage_id TEXT NOT NULL, seq INTEGER NOT NULL, bytes BYTEA NOT NULL, written_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (storage_id, seq)
  );
  CREATE SEQUENCE IF NOT EXISTS ${TABLE_NUMBERS};
  -- Databases made before the sequence: it starts after their last table.
  SELECT setval('${TABLE_NUMBERS}', m) FROM (
    SELECT GREATEST(COALESCE(MAX(number), 0), (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ${TABLE_NUMBERS})) AS m FROM _portico_tables
  ) AS current WHERE m > 0;
`;

/** A connection lost before COMMIT was sent: nothing was applied, the transaction may run again. */
class LostConnection extends DatabaseUnavailableError {}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  private readonly catalog = new PostgresCatalog();
  private listener: SchemaListener | null = null;
  private unregister: () => void = () => {};
  readonly commits = new CommitFeed();

  private constructor(private readonly pool: ConnectionPool) {}

  static async connect(url: string, poolSize: number): Promise<PostgresStore> {
    const pool = new ConnectionPool(url, poolSize);
    const store = new PostgresStore(pool);
    try {
      await store.ddl(async (client) => {
        await client.query(METADATA_DDL);
        await renameCutIdentifiers(client);
      });
      // Every table so far, so that synchronous id checks (normalizeId,
      // v.id) know them from the first request on.
      const { rows } = await pool.query<{ name: string; number: number }>('SELECT name, number FROM _portico_tables');
      for (const row of rows) store.catalog.remember(row.name, row.number);
      // Instances sharing the database learn of each other's schema
      // changes: one that adds or drops an index notifies, the others drop
      // their cached index lists, so their next writes fill the new key
      // columns too.
      const listener = new SchemaListener(
        pool.clientConfig,
        () => {
          store.catalog.forgetIndexes();
          store.commits.publish('everything');
        },
        (payload) => store.commits.publish(parseAnnouncement(payload)),
      );
      await listener.start();
      store.listener = listener;
      store.unregister = registerHealthSource(listener);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  // --- catalog ------------------------------------------------------------

  async tableNumber(table: string): Promise<number | null> {
    const cached = this.catalog.numbers.get(table);
    if (cached !== undefined) return cached;
    const { rows } = await this.pool.query<{ number: number }>('SELECT number FROM _portico_tables WHERE name = $1', [table]);
    if (!rows[0]) return null;
    this.catalog.remember(table, rows[0].number);
    return rows[0].number;
  }

  async tableName(number: number): Promise<string | null> {
    const cached = this.catalog.names.get(number);
    if (cached !== undefined) return cached;
    const { rows } = await this.pool.query<{ name: string }>('SELECT name FROM _portico_tables WHERE number = $1', [number]);
    if (!rows[0]) return null;
    this.catalog.remember(rows[0].name, number);
    return rows[0].name;
  }

  cachedTableName(number: number): string | undefined {
    return this.catalog.names.get(number);
  }

  /** Other instances' commits arrive as notifications: a barrier makes sure those finished before now have. */
  catchUp(): Promise<boolean> | false {
    return this.listener?.barrier() ?? false;
  }

  indexesOf(table: string): readonly IndexSpec[] | null {
    return this.catalog.indexCache.get(table) ?? null;
  }

  async applySchema(tables: readonly { name: string; indexes: IndexSpec[] }[]): Promise<void> {
    await this.ddl(async (client) => {
      let changed = false;
      for (const table of tables) changed = (await syncIndexes(client, this.catalog, table.name, table.indexes)) || changed;
      // Delivered at commit to every instance listening (see SchemaListener).
      if (changed) await client.query(`NOTIFY ${SCHEMA_CHANNEL}`);
    });
    // Lists cached meanwhile may predate the change.
    this.catalog.forgetIndexes();
    this.commits.publish('everything');
    for (const table of tables) {
      const { rows } = await this.pool.query<{ index_name: string; fields: string }>(
        'SELECT index_name, fields FROM _portico_indexes WHERE table_name = $1 ORDER BY index_name',
        [table.name],
      );
      this.catalog.indexCache.set(table.name, rows.map((row) => ({ name: row.index_name, fields: JSON.parse(row.fields) as string[] })));
    }
  }

  // --- transactions -------------------------------------------------------

  async read<T>(fn: (tx: ReadTx) => Promise<T>, options?: ReadOptions): Promise<T> {
    for (let reconnects = 0; ; reconnects++) {
      const lease = await this.pool.checkout();
      const tx = new PostgresTx(lease.client, this.catalog);
      try {
        await lease.client.query(begin('REPEATABLE READ READ ONLY', options?.timeoutMs));
        const value = await withDeadline(fn(tx), options?.timeoutMs, () => tx.close(), 'Query');
        tx.close();
        await lease.client.query('COMMIT');
        lease.release();
        return value;
      } catch (error) {
        tx.close();
        const lost = lease.lost !== null || isConnectionFailure(error);
        await this.pool.abandon(lease, lost || tx.pending > 0);
        // A read has no effect: it can always run again.
        if (lost && reconnects < MAX_RECONNECTS) continue;
        if (lost) throw lostConnection(lease, error);
        throw error;
      }
    }
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T> {
    let reconnects = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(fn, options);
      } catch (error) {
        if (error instanceof LostConnection && reconnects++ < MAX_RECONNECTS) continue;
        const code = (error as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code)) activeMetrics()?.conflict(attempt < MAX_ATTEMPTS);
        if (code === undefined || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
        // Conflicting mutations back off by a random amount so they do not
        // collide again in lockstep.
        const ceiling = Math.min(100, 2 * 2 ** Math.min(attempt, 6));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
      }
    }
  }

  private async attempt<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T> {
    const lease = await this.pool.checkout();
    const tx = new PostgresTx(lease.client, this.catalog);
    let committing = false;
    try {
      await lease.client.query(begin('SERIALIZABLE', options.timeoutMs));
      const value = await withDeadline(fn(tx), options.timeoutMs, () => tx.close(), 'Mutation');
      // The function may have caught the error that asked for a re-run.
      if (tx.retry) throw tx.retry;
      tx.close();
      committing = true;
      // What it wrote goes to the other instances with the commit itself,
      // in the same round trip.
      const announced = !tx.writes.empty && !tx.aborted;
      const results = await lease.client.query(announced ? `${notifyStatement(CHANGES_CHANNEL, tx.writes)}; COMMIT` : 'COMMIT');
      const result = Array.isArray(results) ? (results.at(-1) as pg.QueryResult) : results;
      // COMMIT of a transaction a failed statement aborted (the function
      // caught the error and returned) rolls back without an error.
      if (result.command !== 'COMMIT') throw new Error('The mutation was rolled back: one of its database operations failed and its error was caught');
      lease.release();
      this.commits.publish(tx.writes);
      for (const [table, number] of tx.created) this.catalog.remember(table, number);
      tx.commitHooks.run();
      return value;
    } catch (error) {
      tx.close();
      const lost = lease.lost !== null || isConnectionFailure(error);
      await this.pool.abandon(lease, lost || tx.pending > 0);
      if (lost && committing) {
        throw new DatabaseUnavailableError(
          `The connection to PostgreSQL was lost while the mutation committed; it may or may not have been applied: ${describe(lease.lost ?? error)}`,
          true,
          { cause: error },
        );
      }
      if (lost) throw lostConnection(lease, error, LostConnection);
      if (tx.retry && !RETRYABLE.has((error as { code?: string }).code ?? '')) throw tx.retry;
      throw error;
    }
  }

  // --- meta ---------------------------------------------------------------

  async getMeta(key: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM _portico_meta WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  }

  async initMeta(key: string, value: string): Promise<string> {
    await this.pool.query('INSERT INTO _portico_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.getMeta(key))!;
  }

  async close(): Promise<void> {
    this.unregister();
    await this.listener?.close();
    await this.pool.end();
  }

  /** File bytes in the database, for storage.kind: database (see file-chunks.ts). */
  get fileChunks(): FileChunks {
    return (this.chunks ??= new PostgresFileChunks(this.pool, (table) => this.tableNumber(table)));
  }
  private chunks: PostgresFileChunks | undefined;

  // --- DDL ----------------------------------------------------------------

  /** Runs schema changes in one transaction, one instance at a time; a deadlock with live mutations runs it again. */
  private async ddl<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const lease = await this.pool.checkout();
      const { client } = lease;
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
        const value = await fn(client);
        await client.query('COMMIT');
        lease.release();
        return value;
      } catch (error) {
        const lost = lease.lost !== null || isConnectionFailure(error);
        await this.pool.abandon(lease, lost);
        const code = (error as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
        if (lost) throw lostConnection(lease, error);
        throw error;
      }
    }
  }
}

/**
 * BEGIN, and a statement timeout in the same round trip: a statement of an
 * abandoned transaction (its connection destroyed) stops on the server soon
 * after the transaction's time limit, rather than holding its locks. A
 * little later than the limit, so the limit is what callers see.
 */
function begin(mode: string, timeoutMs: number | undefined): string {
  const statement = `BEGIN ISOLATION LEVEL ${mode}`;
  return timeoutMs === undefined ? statement : `${statement}; SET LOCAL statement_timeout = ${Math.ceil(timeoutMs) + STATEMENT_GRACE_MS}`;
}

/** `work`, or a TransactionTimeoutError after `ms` (when `onTimeout` closes the transaction's handle). */
function withDeadline<T>(work: Promise<T>, ms: number | undefined, onTimeout: () => void, kind: 'Query' | 'Mutation'): Promise<T> {
  if (ms === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new TransactionTimeoutError(`${kind} did not finish within ${ms} ms`));
    }, ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}
