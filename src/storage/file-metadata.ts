import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../values/value.js';
import { newId, tableNumberOf } from '../database/ids.js';
import type { Store } from '../database/store.js';
import type { StoredFile } from './storage-service.js';

// File metadata lives in the `_storage` system table, like Convex's: a
// storage id is a document id, `db.system.get(id)` reads a file's metadata,
// and the metadata commits transactionally. `sha256` is stored base64 (as
// Convex stores it) and reported hex by getMetadata (as Convex reports it).

export const STORAGE_TABLE = '_storage';

export class FileMetadata {
  private constructor(
    private readonly store: Store,
    private readonly tableNumber: number,
  ) {}

  /** Makes sure the `_storage` table exists. */
  static async open(store: Store): Promise<FileMetadata> {
    await store.applySchema([{ name: STORAGE_TABLE, indexes: [] }]);
    const number = await store.tableNumber(STORAGE_TABLE);
    if (number === null) throw new Error('the _storage table could not be created');
    return new FileMetadata(store, number);
  }

  /** A fresh storage id, chosen before the bytes are written so the file can be named by it. */
  newId(): string {
    return newId(this.tableNumber);
  }

  /** Whether `id` is well-formed as a storage id (checked before touching any file). */
  isId(id: unknown): id is string {
    return typeof id === 'string' && tableNumberOf(id) === this.tableNumber;
  }

  async insert(file: StoredFile): Promise<void> {
    const fields: Record<string, Value> = {
      sha256: Buffer.from(file.sha256, 'hex').toString('base64'),
      size: file.size,
      contentType: file.contentType,
    };
    const json = JSON.stringify(convexToJson(fields));
    await this.store.write((tx) => tx.insert(STORAGE_TABLE, { id: file.storageId, creationTime: file.creationTime, json, fields }), { timeoutMs: 30_000 });
  }

  async read(storageId: string): Promise<StoredFile | null> {
    if (!this.isId(storageId)) return null;
    const stored = await this.store.read((tx) => tx.get(STORAGE_TABLE, storageId));
    if (!stored) return null;
    const fields = jsonToConvex(JSON.parse(stored.json) as JSONValue) as { sha256: string; size: number; contentType: string | null };
    return {
      storageId,
      sha256: Buffer.from(fields.sha256, 'base64').toString('hex'),
      size: fields.size,
      contentType: fields.contentType,
      creationTime: stored.creationTime,
    };
  }

  /** Removes a file's metadata; returns whether it existed. */
  async delete(storageId: string): Promise<boolean> {
    if (!this.isId(storageId)) return false;
    return this.store.write((tx) => tx.delete(STORAGE_TABLE, storageId), { timeoutMs: 30_000 });
  }
}
