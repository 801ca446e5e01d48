import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GatewayError } from '../http/errors.js';
import type { FileChunks, Store, WriteTx } from '../database/store.js';
import type { FileMetadata } from './file-metadata.js';
import type { ByteRange, FileBytes, StorageService, StoreOptions, StoredFile } from './storage-service.js';
import { TransactionStorage } from './transaction-storage.js';
import { asDiskFull } from './disk-full.js';

// File bytes in the database (storage.kind: database), so that every gateway
// instance on it serves every file. A file is a run of fixed-size chunk rows,
// written as they stream in and read back one batch at a time: neither way
// holds a whole file in memory. As with fs storage, the metadata row is
// committed only after the last chunk, so a crash leaves at worst orphan
// chunks, which sweepOrphans() deletes.

const CHUNK = 256 * 1024;
const CHUNKS_PER_READ = 4;
const ORPHAN_AGE_MS = 60 * 60 * 1000;

export class DatabaseStorage implements StorageService, FileBytes {
  private constructor(
    private readonly chunkRows: FileChunks,
    private readonly files: FileMetadata,
  ) {}

  static async open(store: Store, files: FileMetadata): Promise<DatabaseStorage> {
    if (!store.fileChunks) throw new Error('storage.kind: database needs a PostgreSQL backend.database');
    const storage = new DatabaseStorage(store.fileChunks, files);
    return storage;
  }

  async store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const file = await this.writeBytes(bytes, options);
    try {
      await this.files.insert(file);
    } catch (error) {
      await this.removeBytes(file.storageId).catch(() => {});
      throw asDiskFull(error);
    }
    return file;
  }

  async writeBytes(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const storageId = this.files.newId();
    const hash = createHash('sha256');
    let size = 0;
    let seq = 0;
    let pending: Buffer[] = [];
    let pendingSize = 0;
    const flush = async (all: boolean) => {
      while (pendingSize >= CHUNK || (all && pendingSize > 0)) {
        const joined = Buffer.concat(pending, pendingSize);
        const chunk = joined.subarray(0, Math.min(CHUNK, joined.length));
        await this.chunkRows.put(storageId, seq++, chunk);
        const rest = joined.subarray(chunk.length);
        pending = rest.length ? [rest] : [];
        pendingSize = rest.length;
      }
    };
    try {
      for await (const piece of bytes) {
        size += piece.byteLength;
        if (options.limit !== undefined && size > options.limit) throw GatewayError.payloadTooLarge(options.limit);
        hash.update(piece);
        pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
        pendingSize += piece.byteLength;
        if (pendingSize >= CHUNK) await flush(false);
      }
      await flush(true);
      const digest = hash.digest();
      if (options.expectedSha256 !== undefined && digest.toString('base64') !== options.expectedSha256) {
        throw new GatewayError('Sha256Mismatch', `The body's sha256 is ${digest.toString('base64')}, not ${options.expectedSha256} as its Digest header says`);
      }
      return { storageId, sha256: digest.toString('hex'), size, contentType: options.contentType, fileName: options.fileName ?? null, creationTime: Date.now() };
    } catch (error) {
      await this.chunkRows.delete(storageId).catch(() => {});
      throw asDiskFull(error);
    }
  }

  metadata(storageId: string): Promise<StoredFile | null> {
    return this.files.read(storageId);
  }

  async open(storageId: string, range?: ByteRange) {
    const file = await this.files.read(storageId);
    return file && { file, stream: this.streamOf(file, range) };
  }

  streamOf(file: StoredFile, range?: ByteRange): Readable {
    return Readable.from(this.chunks(file.storageId, range?.start ?? 0, range?.end ?? file.size - 1));
  }

  async blob(storageId: string): Promise<Blob | null> {
    const file = await this.files.read(storageId);
    return file && this.blobOf(file);
  }

  async blobOf(file: StoredFile): Promise<Blob> {
    // A Blob is read whole by its consumer anyway; database storage has no
    // file to back it, so this one holds the bytes.
    const parts: Buffer[] = [];
    for await (const part of this.streamOf(file)) parts.push(part as Buffer);
    return new Blob(parts as Uint8Array<ArrayBuffer>[], { type: file.contentType ?? '' });
  }

  async delete(storageId: string): Promise<boolean> {
    const existed = await this.files.delete(storageId);
    if (existed) await this.removeBytes(storageId);
    return existed;
  }

  removeBytes(storageId: string): Promise<void> {
    return this.chunkRows.delete(storageId);
  }

  inTransaction(tx: WriteTx): StorageService {
    return new TransactionStorage(this, this.files, tx);
  }

  /** Stops between two files once `signal` aborts (its storage was retired). */
  async sweepOrphans(signal?: AbortSignal): Promise<number> {
    const orphans = await this.chunkRows.orphans(ORPHAN_AGE_MS);
    let removed = 0;
    for (const id of orphans) {
      if (signal?.aborted) break;
      await this.chunkRows.delete(id);
      removed += 1;
    }
    return removed;
  }

  /** Bytes start..end (inclusive), fetched a few chunks at a time. */
  private async *chunks(storageId: string, start: number, end: number): AsyncGenerator<Buffer> {
    if (end < start) return;
    const first = Math.floor(start / CHUNK);
    const last = Math.floor(end / CHUNK);
    for (let seq = first; seq <= last; seq += CHUNKS_PER_READ) {
      const batch = await this.chunkRows.get(storageId, seq, Math.min(last, seq + CHUNKS_PER_READ - 1));
      for (let i = 0; i < batch.length; i++) {
        const chunkStart = (seq + i) * CHUNK;
        const from = Math.max(0, start - chunkStart);
        const to = Math.min(batch[i]!.length, end - chunkStart + 1);
        yield batch[i]!.subarray(from, to);
      }
    }
  }
}
