import path from 'node:path';
import type { Logger } from 'pino';
import type { AuthProviderConfig, BackendConfig, PorticoConfig } from '../config/types.js';
import type { Store } from '../database/store.js';
import { SqliteStore } from '../database/sqlite/sqlite-store.js';
import { Authenticator } from '../auth/authenticator.js';
import { FileMetadata } from '../storage/file-metadata.js';
import { FsStorage } from '../storage/fs-storage.js';
import type { StorageService } from '../storage/storage-service.js';
import { UploadTokens } from '../storage/upload-tokens.js';
import { closeRateLimitStores } from '../policies/rate-limit-store.js';
import type { StorageParts } from '../storage/storage-parts.js';

// What outlives a config reload: database connections, file storage, JWKS
// caches. Each is keyed by the part of the config it depends on, so a reload
// that changes routes keeps the same connections, and one that changes the
// database opens new ones (and closes the old ones when the old generation
// has drained).

export type { StorageParts };

type LocalDatabase = Extract<BackendConfig, { kind: 'local' }>['database'];

export class SharedResources {
  private readonly stores = new Map<string, Promise<Store>>();
  private readonly storages = new Map<string, Promise<StorageParts>>();
  private readonly authenticators = new Map<string, Authenticator>();
  /** Retired databases waiting out their grace period, by key. */
  private readonly closing = new Map<string, { timer: NodeJS.Timeout; store: Promise<Store> }>();

  constructor(private readonly logger: Logger) {}

  store(database: LocalDatabase): Promise<Store> {
    const key = databaseKey(database);
    let store = this.stores.get(key);
    // A config that goes back to a database still in its grace period (a
    // reload, then a reload back) takes it up again: opening a second store
    // on the same database would double its connections for every such
    // round trip.
    const retired = this.closing.get(key);
    if (!store && retired) {
      clearTimeout(retired.timer);
      this.closing.delete(key);
      this.stores.set(key, (store = retired.store));
    }
    if (!store) {
      store = openStore(database);
      this.stores.set(key, store);
      store.catch(() => this.stores.delete(key));
    }
    return store;
  }

  /** Storage over `store`, the store of `database`. */
  storage(config: PorticoConfig, database: LocalDatabase, store: Store): Promise<StorageParts> {
    const key = storageKey(config, database);
    let parts = this.storages.get(key);
    if (!parts) {
      parts = openStorage(config, store, this.logger);
      this.storages.set(key, parts);
      parts.catch(() => this.storages.delete(key));
    }
    return parts;
  }

  authenticator(providers: readonly AuthProviderConfig[]): Authenticator {
    const key = JSON.stringify(providers);
    let authenticator = this.authenticators.get(key);
    if (!authenticator) this.authenticators.set(key, (authenticator = new Authenticator(providers)));
    return authenticator;
  }

  /**
   * After a reload: closes the databases and storages the serving config no
   * longer uses. A storage stops its sweep at once; a database is closed once
   * requests that started on the previous version have had `graceMs` to
   * finish (the same time a stop gives them).
   */
  retireUnused(config: PorticoConfig, graceMs: number): void {
    const backend = config.backend;
    const inUse = backend.kind === 'local' ? databaseKey(backend.database) : null;
    const storageInUse = backend.kind === 'local' ? storageKey(config, backend.database) : null;
    for (const [key, parts] of this.storages) {
      if (key === storageInUse) continue;
      this.storages.delete(key);
      parts.then((opened) => opened.close(), () => {});
    }
    for (const [key, store] of this.stores) {
      if (key === inUse) continue;
      this.stores.delete(key);
      const timer = setTimeout(() => {
        this.closing.delete(key);
        store.then((opened) => opened.close()).catch((error) => this.logger.warn({ err: error }, 'closing a retired database failed'));
      }, graceMs);
      timer.unref();
      this.closing.set(key, { timer, store });
      this.logger.info({ database: key.replace(/\/\/[^@/]*@/, '//***@') }, 'the reloaded config no longer uses this database; closing it after the grace period');
    }
    const providers = JSON.stringify(config.auth.providers);
    for (const key of this.authenticators.keys()) if (key !== providers) this.authenticators.delete(key);
  }

  async close(): Promise<void> {
    const storages = await Promise.allSettled([...this.storages.values()]);
    this.storages.clear();
    for (const result of storages) if (result.status === 'fulfilled') result.value.close();
    // Retired databases still in their grace period are closed now.
    const retired = [...this.closing.values()].map(({ timer, store }) => {
      clearTimeout(timer);
      return store;
    });
    this.closing.clear();
    const stores = await Promise.allSettled([...this.stores.values(), ...retired]);
    this.stores.clear();
    for (const result of stores) if (result.status === 'fulfilled') await result.value.close();
    await closeRateLimitStores();
  }
}

function storageKey(config: PorticoConfig, database: LocalDatabase): string {
  return `${databaseKey(database)}|${config.storage.kind}:${config.storage.dir}`;
}

function databaseKey(database: LocalDatabase): string {
  return database.kind === 'sqlite' ? `sqlite:${database.file}` : `postgres:${database.url}:${database.pool}`;
}

async function openStore(database: LocalDatabase): Promise<Store> {
  if (database.kind === 'sqlite') return new SqliteStore(database.file);
  const { PostgresStore } = await import('../database/postgres/postgres-store.js');
  return PostgresStore.connect(database.url, database.pool);
}

const SWEEP_EVERY_MS = 60 * 60 * 1000;

async function openStorage(config: PorticoConfig, store: Store, logger: Logger): Promise<StorageParts> {
  const files = await FileMetadata.open(store);
  const tokens = await UploadTokens.open(store);
  let service: StorageService & { sweepOrphans(signal?: AbortSignal): Promise<number> };
  if (config.storage.kind === 'database') {
    const { DatabaseStorage } = await import('../storage/database-storage.js');
    service = await DatabaseStorage.open(store, files);
  } else {
    service = new FsStorage(path.resolve(config.storage.dir), files);
  }
  // Leftovers of crashed uploads and of rolled-back mutations are cleared in
  // the background, now and every hour, until a reload retires this storage
  // (a sweep under way stops between two files).
  const retired = new AbortController();
  const sweep = () =>
    service.sweepOrphans(retired.signal).then(
      (removed) => removed > 0 && logger.info({ removed }, 'removed orphan storage files'),
      (error) => retired.signal.aborted || logger.warn({ err: error }, 'could not sweep orphan storage files'),
    );
  void sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  timer.unref();
  const isId = (id: string) => files.isId(id);
  return {
    service,
    isId,
    uploadToken: async () => tokens.issue(),
    endpoint: { kind: 'local', tokens },
    close: () => {
      clearInterval(timer);
      retired.abort();
    },
  };
}
