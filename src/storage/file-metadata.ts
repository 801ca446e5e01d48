import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../values/value.js';
import { newId, tableNumberOf } from '../database/ids.js';
import type { ReadTx, Store, WriteTx } from '../database/store.js';
import type { StoredFile } from './storage-service.js';

// File metadata lives in the `_storage` system table, like Convex's: a
// storage id is a document id, `db.system.get(id)` reads a file's metadata,
// and the metadata commits transactionally. `sha256` is stored base64 (as
// Convex stores it) and reported hex by getMetadata (as Convex reports it).
// `fileName`, which Convex does not have, is only there when a name was
// given at upload, so other documents keep Convex's shape.

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
    await this.store.write((tx) => this.insertIn(tx, file), { timeoutMs: 30_000 });
  }

  /** Inserts in a transaction already open (a mutation's). */
  insertIn(tx: WriteTx, file: StoredFile): Promise<void> {
    const fields: Record<string, Value> = {
      sha256: Buffer.from(file.sha256, 'hex').toString('base64'),
      size: file.size,
      contentType: file.contentType,
    };
    if (file.fileName) fields.fileName = file.fileName;
    const json = JSON.stringify(convexToJson(fields));
    return tx.insert(STORAGE_TABLE, { id: file.storageId, creationTime: file.creationTime, json, fields });
  }

  async read(storageId: string): Promise<StoredFile | null> {
    if (!this.isId(storageId)) return null;
    return this.store.read((tx) => this.readIn(tx, storageId));
  }

  /** Reads in a transaction already open, seeing its own uncommitted writes. */
  async readIn(tx: ReadTx, storageId: string): Promise<StoredFile | null> {
    if (!this.isId(storageId)) return null;
    const stored = await tx.get(STORAGE_TABLE, storageId);
    if (!stored) return null;
    const fields = jsonToConvex(JSON.parse(stored.json) as JSONValue) as { sha256: string; size: number; contentType: string | null; fileName?: string };
    return {
      storageId,
      sha256: Buffer.from(fields.sha256, 'base64').toString('hex'),
      size: fields.size,
      contentType: fields.contentType,
      fileName: fields.fileName ?? null,
      creationTime: stored.creationTime,
    };
  }

  /** Removes a file's metadata; returns whether it existed. */
  async delete(storageId: string): Promise<boolean> {
    if (!this.isId(storageId)) return false;
    return this.store.write((tx) => this.deleteIn(tx, storageId), { timeoutMs: 30_000 });
  }

  /** Deletes in a transaction already open; returns whether the row existed. */
  async deleteIn(tx: WriteTx, storageId: string): Promise<boolean> {
    if (!this.isId(storageId)) return false;
    return tx.delete(STORAGE_TABLE, storageId);
  }
}
