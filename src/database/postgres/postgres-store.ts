import pg from 'pg';
import { jsonToConvex, type JSONValue, type Value } from '../../values/value.js';
import { indexKey } from '../index-keys.js';
import { CREATION_INDEX, sqlIndexName, sqlKeyColumn, sqlTable, TransactionTimeoutError, type IndexSpec, type ReadTx, type Store, type WriteOptions, type WriteTx } from '../store.js';
import { PostgresTx, type PostgresCatalog } from './postgres-tx.js';

// The shared store: several gateway instances (and worker processes) on one
// PostgreSQL database.
//  - A query runs in a REPEATABLE READ READ ONLY transaction: one snapshot.
//  - A mutation runs in a SERIALIZABLE transaction; a serialization failure
//    or deadlock rolls it back and runs it again, with jittered backoff, as
//    Convex re-runs mutations on OCC conflicts. Only mutations are retried.
//  - DDL (a table's first insert, schema changes) runs outside user
//    transactions under an advisory lock, so instances starting together
//    do not race.

const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 60;
const DDL_LOCK = 0x706f7274; // "port"
const SCHEMA_CHANNEL = 'portico_schema';

const METADATA_DDL = `
  CREATE TABLE IF NOT EXISTS _portico_tables (name TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS _portico_indexes (table_name TEXT NOT NULL, index_name TEXT NOT NULL, fields TEXT NOT NULL, PRIMARY KEY (table_name, index_name));
  CREATE TABLE IF NOT EXISTS _portico_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS _portico_file_chunks (
    storage_id TEXT NOT NULL, seq INTEGER NOT NULL, bytes BYTEA NOT NULL, written_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (storage_id, seq)
  );
`;

export class PostgresStore implements Store, PostgresCatalog {
  readonly dialect = 'postgres' as const;
  private readonly numbers = new Map<string, number>();
  private readonly names = new Map<number, string>();
  private readonly indexCache = new Map<string, IndexSpec[]>();

  private constructor(private readonly pool: pg.Pool) {}

  static async connect(url: string, poolSize: number): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => {});
    const store = new PostgresStore(pool);
    try {
      await store.ddl(async (client) => {
        await client.query(METADATA_DDL);
      });
      // Every table so far, so that synchronous id checks (normalizeId,
      // v.id) know them from the first request on.
      const { rows } = await pool.query<{ name: string; number: number }>('SELECT name, number FROM _portico_tables');
      for (const row of rows) store.remember(row.name, row.number);
      await store.listen(url);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private listener: pg.Client | null = null;

  /**
   * Instances sharing the database learn of each other's schema changes:
   * one that adds or drops an index notifies, the others drop their cached
   * index lists, so their next writes fill the new key columns too.
   */
  private async listen(url: string): Promise<void> {
    const listener = new pg.Client({ connectionString: url });
    listener.on('error', () => {});
    listener.on('notification', () => this.indexCache.clear());
    await listener.connect();
    await listener.query(`LISTEN ${SCHEMA_CHANNEL}`);
    this.listener = listener;
  }

  // --- catalog ------------------------------------------------------------

  async numberOf(table: string): Promise<number | null> {
    const cached = this.numbers.get(table);
    if (cached !== undefined) return cached;
    const { rows } = await this.pool.query<{ number: number }>('SELECT number FROM _portico_tables WHERE name = $1', [table]);
    if (!rows[0]) return null;
    this.remember(table, rows[0].number);
    return rows[0].number;
  }

  tableNumber(table: string): Promise<number | null> {
    return this.numberOf(table);
  }

  async tableName(number: number): Promise<string | null> {
    const cached = this.names.get(number);
    if (cached !== undefined) return cached;
    const { rows } = await this.pool.query<{ name: string }>('SELECT name FROM _portico_tables WHERE number = $1', [number]);
    if (!rows[0]) return null;
    this.remember(rows[0].name, number);
    return rows[0].name;
  }

  cachedTableName(number: number): string | undefined {
    return this.names.get(number);
  }

  async create(table: string): Promise<number> {
    return this.ddl((client) => this.createWith(client, table));
  }

  async indexes(table: string): Promise<readonly IndexSpec[]> {
    let indexes = this.indexCache.get(table);
    if (!indexes) {
      const { rows } = await this.pool.query<{ index_name: string; fields: string }>(
        'SELECT index_name, fields FROM _portico_indexes WHERE table_name = $1 ORDER BY index_name',
        [table],
      );
      indexes = rows.map((row) => ({ name: row.index_name, fields: JSON.parse(row.fields) as string[] }));
      this.indexCache.set(table, indexes);
    }
    return indexes;
  }

  indexesOf(table: string): readonly IndexSpec[] | null {
    return this.indexCache.get(table) ?? null;
  }

  async applySchema(tables: readonly { name: string; indexes: IndexSpec[] }[]): Promise<void> {
    await this.ddl(async (client) => {
      let changed = false;
      for (const table of tables) changed = (await this.syncIndexes(client, table.name, table.indexes)) || changed;
      // Delivered at commit to every instance listening (see listen()).
      if (changed) await client.query(`NOTIFY ${SCHEMA_CHANNEL}`);
    });
    for (const table of tables) await this.indexes(table.name);
  }

  // --- transactions -------------------------------------------------------

  async read<T>(fn: (tx: ReadTx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = new PostgresTx(client, this);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      tx.close();
      client.release();
    }
  }

  async write<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(fn, options);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === undefined || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
        // Conflicting mutations back off by a random amount so they do not
        // collide again in lockstep.
        const ceiling = Math.min(100, 2 * 2 ** Math.min(attempt, 6));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
      }
    }
  }

  private async attempt<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T> {
    const client = await this.pool.connect();
    const tx = new PostgresTx(client, this);
    let timer: NodeJS.Timeout | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TransactionTimeoutError(`Mutation did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
      });
      const value = await Promise.race([fn(tx), timeout]);
      tx.close();
      await client.query('COMMIT');
      tx.commitHooks.run();
      return value;
    } catch (error) {
      tx.close();
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
      client.release();
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
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }

  // --- file bytes (storage.kind: database) ---------------------------------

  /** Stores one chunk of a file (autocommitted: see DatabaseStorage). */
  async putChunk(storageId: string, seq: number, bytes: Uint8Array): Promise<void> {
    await this.pool.query('INSERT INTO _portico_file_chunks (storage_id, seq, bytes) VALUES ($1, $2, $3)', [storageId, seq, bytes]);
  }

  /** Chunks `from`..`to` (inclusive) of a file, in order. */
  async getChunks(storageId: string, from: number, to: number): Promise<Buffer[]> {
    const { rows } = await this.pool.query<{ bytes: Buffer }>(
      'SELECT bytes FROM _portico_file_chunks WHERE storage_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq',
      [storageId, from, to],
    );
    return rows.map((row) => row.bytes);
  }

  async deleteChunks(storageId: string): Promise<void> {
    await this.pool.query('DELETE FROM _portico_file_chunks WHERE storage_id = $1', [storageId]);
  }

  /** Files whose chunks exist but whose metadata never committed (crashed uploads), older than `ageMs`. */
  async orphanChunkIds(ageMs: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ storage_id: string }>(
      `SELECT DISTINCT c.storage_id FROM _portico_file_chunks c
        WHERE c.written_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM ${sqlTable('_storage')} s WHERE s.id = c.storage_id)`,
      [ageMs / 1000],
    );
    return rows.map((row) => row.storage_id);
  }

  // --- DDL ----------------------------------------------------------------

  /** Runs schema changes in one transaction, one instance at a time. */
  private async ddl<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private async createWith(client: pg.PoolClient, table: string): Promise<number> {
    const existing = await client.query<{ number: number }>('SELECT number FROM _portico_tables WHERE name = $1', [table]);
    if (existing.rows[0]) {
      this.remember(table, existing.rows[0].number);
      return existing.rows[0].number;
    }
    const { rows } = await client.query<{ number: number }>(
      'INSERT INTO _portico_tables (name, number) SELECT $1, COALESCE(MAX(number), 0) + 1 FROM _portico_tables RETURNING number',
      [table],
    );
    await client.query(`
      CREATE TABLE IF NOT EXISTS ${sqlTable(table)} (
        id TEXT PRIMARY KEY, creation_time DOUBLE PRECISION NOT NULL, doc TEXT NOT NULL, ${sqlKeyColumn(CREATION_INDEX)} BYTEA NOT NULL
      );
      CREATE INDEX IF NOT EXISTS ${sqlIndexName(table, CREATION_INDEX)} ON ${sqlTable(table)} (${sqlKeyColumn(CREATION_INDEX)});
    `);
    this.remember(table, rows[0]!.number);
    return rows[0]!.number;
  }

  /** Adds (and backfills) or drops key columns so the table's indexes match `wanted`. */
  private async syncIndexes(client: pg.PoolClient, table: string, wanted: readonly IndexSpec[]): Promise<boolean> {
    await this.createWith(client, table);
    this.indexCache.delete(table);
    const { rows } = await client.query<{ index_name: string; fields: string }>('SELECT index_name, fields FROM _portico_indexes WHERE table_name = $1', [table]);
    const current = new Map(rows.map((row) => [row.index_name, JSON.parse(row.fields) as string[]]));
    let changed = false;
    for (const [name, fields] of current) {
      const next = wanted.find((index) => index.name === name);
      if (next && JSON.stringify(next.fields) === JSON.stringify(fields)) continue;
      await client.query(`DROP INDEX IF EXISTS ${sqlIndexName(table, name)}; ALTER TABLE ${sqlTable(table)} DROP COLUMN IF EXISTS ${sqlKeyColumn(name)};`);
      await client.query('DELETE FROM _portico_indexes WHERE table_name = $1 AND index_name = $2', [table, name]);
      current.delete(name);
      changed = true;
    }
    for (const index of wanted) {
      if (current.has(index.name)) continue;
      await client.query(`ALTER TABLE ${sqlTable(table)} ADD COLUMN IF NOT EXISTS ${sqlKeyColumn(index.name)} BYTEA`);
      const documents = await client.query<{ id: string; creation_time: number; doc: string }>(`SELECT id, creation_time, doc FROM ${sqlTable(table)}`);
      for (const row of documents.rows) {
        const fields = jsonToConvex(JSON.parse(row.doc) as JSONValue) as Record<string, Value>;
        await client.query(`UPDATE ${sqlTable(table)} SET ${sqlKeyColumn(index.name)} = $1 WHERE id = $2`, [indexKey(fields, index, row.creation_time, row.id), row.id]);
      }
      await client.query(`CREATE INDEX IF NOT EXISTS ${sqlIndexName(table, index.name)} ON ${sqlTable(table)} (${sqlKeyColumn(index.name)})`);
      await client.query('INSERT INTO _portico_indexes (table_name, index_name, fields) VALUES ($1, $2, $3)', [table, index.name, JSON.stringify(index.fields)]);
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
