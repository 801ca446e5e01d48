import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { type IndexSpec, type ReadOptions, type ReadTx, type Store, type WriteOptions, type WriteTx } from '../store.js';
import { METADATA_DDL, SqliteCatalog, type CatalogView, type CreatedTable } from './sqlite-catalog.js';
import { SqliteTx } from './sqlite-tx.js';
import { StatementCache } from './sqlite-statements.js';
import { Checkpointer } from './checkpointer.js';
import { WalSync } from './wal-sync.js';
import { WriteLane } from './write-lane.js';
import { ReadLane } from './read-lane.js';
import { CommitFeed } from '../write-set.js';

// The embedded store: one SQLite file in WAL mode.
//  - Writes go through the WriteLane on the single write connection (serial,
//    hence serializable; grouped commits; a mutation is acknowledged once
//    its commit is fsynced, by WalSync, so it survives a crash of the
//    process or of the machine).
//  - Reads run in read transactions on pooled connections, those submitted
//    in one turn of the event loop sharing one (the ReadLane): WAL gives it
//    a consistent snapshot of the last commit, untouched by writes that
//    commit while it runs.

const READ_CONNECTIONS = 4;

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly writer: Database.Database;
  private readonly writerStatements: StatementCache;
  private readonly writerView: CatalogView;
  private readonly lane: WriteLane;
  private readonly catalog = new SqliteCatalog();
  private readonly idleReaders: StatementCache[] = [];
  private readonly allReaders: StatementCache[] = [];
  private readonly readerWaiters: ((reader: StatementCache) => void)[] = [];
  readonly commits = new CommitFeed();
  private readonly readLane = new ReadLane({ acquire: () => this.acquireReader(), release: (reader) => this.releaseReader(reader) }, () => this.catalog.tick);
  /**
   * SQLite's count of commits made by other connections, as the write
   * connection saw it last. This process's readers never write, so a change
   * means another process (a --workers sibling, another tool) committed.
   */
  private foreignVersion: number;
  private readonly dataVersion: Database.Statement;

  constructor(readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.writer = new Database(file);
    this.writer.pragma('journal_mode = WAL');
    // COMMIT writes the log; WalSync fsyncs it off the event loop before any
    // mutation is acknowledged (checkpoints still sync inside SQLite).
    this.writer.pragma('synchronous = NORMAL');
    // Checkpoints run in the Checkpointer's thread; this one is the fallback.
    this.writer.pragma('wal_autocheckpoint = 10000');
    this.writer.pragma('busy_timeout = 5000');
    // A transaction's pages stay in memory until COMMIT. When SQLite spills
    // them to the log early and the disk is full, it rolls the whole
    // transaction back on its own in the middle of a mutation, whose later
    // writes would then run outside any transaction; without spills, a full
    // disk shows at COMMIT, where the write lane fails the batch whole.
    this.writer.pragma('cache_spill = OFF');
    this.writer.exec(METADATA_DDL);
    this.writerStatements = new StatementCache(this.writer);
    this.writerView = { statements: this.writerStatements, since: null };
    this.catalog.load(this.writerStatements);
    this.schemaVersion = this.readSchemaVersion();
    this.dataVersion = this.writer.prepare('PRAGMA data_version').pluck();
    this.foreignVersion = this.dataVersion.get() as number;
    this.walSync = new WalSync(`${file}-wal`);
    this.lane = new WriteLane(this.writer, () => this.durable(), () => this.noticeSchemaChanges());
  }

  private schemaVersion: number;
  private readonly walSync: WalSync;
  /** Started by the first commit: a process that only reads, or has just started, does not pay for the thread. */
  private checkpointer: Checkpointer | null = null;

  private durable(): Promise<void> {
    this.checkpointer ??= new Checkpointer(this.file);
    return this.walSync.durable();
  }

  private schemaVersionStatement: Database.Statement | undefined;

  private readSchemaVersion(): number {
    this.schemaVersionStatement ??= this.writer.prepare('PRAGMA schema_version').pluck();
    return this.schemaVersionStatement.get() as number;
  }

  /**
   * Other processes on the same file (--workers) may add or drop an index;
   * SQLite counts schema changes, so one pragma per write batch tells this
   * process to re-read its index lists before it writes.
   */
  private noticeSchemaChanges(): void {
    this.noticeForeignCommits();
    const version = this.readSchemaVersion();
    if (version === this.schemaVersion) return;
    this.schemaVersion = version;
    this.catalog.forgetIndexes();
  }

  /**
   * Another process's commits are not known one by one: when there were
   * any, everything is announced as changed. The check costs SQLite a lock,
   * a stat and an unlock, so, as reads do (ReadLane), the callers of one turn
   * of the event loop share one, made after all of them called.
   */
  catchUp(): Promise<boolean> {
    return (this.pendingCatchUp ??= new Promise<boolean>((resolve) =>
      setImmediate(() => {
        this.pendingCatchUp = null;
        this.noticeForeignCommits();
        resolve(true);
      }),
    ));
  }

  private pendingCatchUp: Promise<boolean> | null = null;

  private noticeForeignCommits(): void {
    const version = this.dataVersion.get() as number;
    if (version !== this.foreignVersion) {
      this.foreignVersion = version;
      this.commits.publish('everything');
    }
  }

  async tableNumber(table: string): Promise<number | null> {
    return this.catalog.numberOf(this.writerView, table);
  }

  async tableName(number: number): Promise<string | null> {
    return this.catalog.nameOf(this.writerView, number);
  }

  cachedTableName(number: number): string | undefined {
    return this.catalog.cachedName(number);
  }

  indexesOf(table: string): readonly IndexSpec[] | null {
    return this.catalog.exists(this.writerView, table) ? this.catalog.indexes(this.writerView, table) : null;
  }

  async applySchema(tables: readonly { name: string; indexes: IndexSpec[] }[]): Promise<void> {
    const created: CreatedTable[] = [];
    const changed = await this.lane.submit(async () => {
      let any = false;
      for (const table of tables) any = this.catalog.syncIndexes(this.writerView, table.name, table.indexes, created) || any;
      return any;
    }, 10 * 60_000);
    this.catalog.committedTables(created);
    if (changed) {
      this.writerStatements.clear();
      for (const reader of this.allReaders) reader.clear();
    }
    if (changed || created.length > 0) this.commits.publish('everything');
  }

  read<T>(fn: (tx: ReadTx) => Promise<T>, options?: ReadOptions): Promise<T> {
    return this.readLane.submit((reader, since) => {
      const tx = new SqliteTx(reader, this.catalog, since);
      return { done: fn(tx), close: () => tx.close() };
    }, options?.timeoutMs);
  }

  write<T>(fn: (tx: WriteTx) => Promise<T>, options: WriteOptions): Promise<T> {
    const tx = new SqliteTx(this.writerStatements, this.catalog, null);
    // A mutation that runs out of time is closed before the lane moves on,
    // so code it still runs cannot write into the next mutation's savepoint.
    return this.lane.submit(
      () => fn(tx),
      options.timeoutMs,
      () => tx.close(),
      () => this.commits.publish(tx.writes),
    ).then(
      (value) => {
        tx.close();
        this.catalog.committedTables(tx.created);
        tx.commitHooks.run();
        return value;
      },
      (error) => {
        tx.close();
        throw error;
      },
    );
  }

  async getMeta(key: string): Promise<string | null> {
    const row = this.writer.prepare('SELECT value FROM _portico_meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async initMeta(key: string, value: string): Promise<string> {
    return this.lane.submit(async () => {
      this.writer.prepare('INSERT OR IGNORE INTO _portico_meta (key, value) VALUES (?, ?)').run(key, value);
      return (this.writer.prepare('SELECT value FROM _portico_meta WHERE key = ?').get(key) as { value: string }).value;
    }, 10_000);
  }

  async close(): Promise<void> {
    // Let queued mutations finish, and their commits reach the disk, before
    // the connections go away.
    while (this.lane.busy) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.walSync.durable().catch(() => {});
    await this.walSync.close();
    await this.checkpointer?.close();
    for (const reader of this.allReaders) reader.db.close();
    this.writer.close();
  }

  private acquireReader(): Promise<StatementCache> {
    const idle = this.idleReaders.pop();
    if (idle) return Promise.resolve(idle);
    if (this.allReaders.length < READ_CONNECTIONS) {
      const db = new Database(this.file, { readonly: true });
      db.pragma('busy_timeout = 5000');
      const reader = new StatementCache(db);
      this.allReaders.push(reader);
      return Promise.resolve(reader);
    }
    return new Promise((resolve) => this.readerWaiters.push(resolve));
  }

  private releaseReader(reader: StatementCache): void {
    const waiter = this.readerWaiters.shift();
    if (waiter) waiter(reader);
    else this.idleReaders.push(reader);
  }
}
