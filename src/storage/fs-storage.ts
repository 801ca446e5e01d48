import { createHash } from 'node:crypto';
import { createReadStream, openAsBlob } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { GatewayError } from '../http/errors.js';
import type { WriteTx } from '../database/store.js';
import type { FileMetadata } from './file-metadata.js';
import type { ByteRange, FileBytes, StorageService, StoreOptions, StoredFile } from './storage-service.js';
import { TransactionStorage } from './transaction-storage.js';
import { asDiskFull } from './disk-full.js';

// File bytes on the local filesystem (storage.kind: fs). A crash must never
// leave metadata pointing at a missing or partial file, so a file is written
// to a temporary name, fsynced, renamed into place (and its directory
// fsynced), and only then is its metadata committed. A crash in between
// leaves at worst an orphan file with no metadata, which sweepOrphans()
// removes later. Deleting goes the other way round: metadata first.
//
// Files are named by their storage id, which is checked to be one (a short
// alphabet of [0-9a-z]) before any path is built from it.

const INCOMING = '.incoming';
const ORPHAN_AGE_MS = 60 * 60 * 1000;

export class FsStorage implements StorageService, FileBytes {
  constructor(
    private readonly dir: string,
    private readonly files: FileMetadata,
  ) {}

  async store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const file = await this.writeBytes(bytes, options);
    try {
      await this.files.insert(file);
    } catch (error) {
      await this.removeBytes(file.storageId);
      throw asDiskFull(error);
    }
    return file;
  }

  async writeBytes(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    try {
      return await this.writeFile(bytes, options);
    } catch (error) {
      throw asDiskFull(error);
    }
  }

  /** Writes to a temporary file, then renames it into place; a failure at any step leaves nothing behind. */
  private async writeFile(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const storageId = this.files.newId();
    const incoming = path.join(this.dir, INCOMING);
    await mkdir(incoming, { recursive: true });
    const temporary = path.join(incoming, `${storageId}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temporary, 'wx');
    try {
      for await (const chunk of bytes) {
        size += chunk.byteLength;
        if (options.limit !== undefined && size > options.limit) throw GatewayError.payloadTooLarge(options.limit);
        hash.update(chunk);
        let written = 0;
        while (written < chunk.byteLength) written += (await handle.write(chunk, written, chunk.byteLength - written)).bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.close().catch(() => {});
      await rm(temporary, { force: true });
      throw error;
    }
    await handle.close();

    const digest = hash.digest();
    if (options.expectedSha256 !== undefined && digest.toString('base64') !== options.expectedSha256) {
      await rm(temporary, { force: true });
      throw new GatewayError('Sha256Mismatch', `The body's sha256 is ${digest.toString('base64')}, not ${options.expectedSha256} as its Digest header says`);
    }
    const final = this.pathOf(storageId);
    try {
      await mkdir(path.dirname(final), { recursive: true });
      await rename(temporary, final);
      await syncDirectory(path.dirname(final));
    } catch (error) {
      // A full disk can refuse even a new shard folder.
      await rm(temporary, { force: true });
      await rm(final, { force: true });
      throw error;
    }
    return { storageId, sha256: digest.toString('hex'), size, contentType: options.contentType, fileName: options.fileName ?? null, creationTime: Date.now() };
  }

  metadata(storageId: string): Promise<StoredFile | null> {
    return this.files.read(storageId);
  }

  async open(storageId: string, range?: ByteRange) {
    const file = await this.files.read(storageId);
    return file && { file, stream: this.streamOf(file, range) };
  }

  streamOf(file: StoredFile, range?: ByteRange): Readable {
    return createReadStream(this.pathOf(file.storageId), range ? { start: range.start, end: range.end } : {});
  }

  async blob(storageId: string): Promise<Blob | null> {
    const file = await this.files.read(storageId);
    return file && this.blobOf(file);
  }

  blobOf(file: StoredFile): Promise<Blob> {
    // Backed by the file: bytes are read from disk as the Blob is consumed.
    return openAsBlob(this.pathOf(file.storageId), { type: file.contentType ?? '' });
  }

  async delete(storageId: string): Promise<boolean> {
    const existed = await this.files.delete(storageId);
    if (existed) await this.removeBytes(storageId);
    return existed;
  }

  async removeBytes(storageId: string): Promise<void> {
    await rm(this.pathOf(storageId), { force: true });
  }

  inTransaction(tx: WriteTx): StorageService {
    return new TransactionStorage(this, this.files, tx);
  }

  /**
   * Removes what crashed writes left behind: temporary files, and files
   * whose metadata was never committed. Only files older than an hour are
   * touched, so writes in progress (in this or another process) are safe.
   * Stops between two files once `signal` aborts (its storage was retired).
   */
  async sweepOrphans(signal?: AbortSignal): Promise<number> {
    let removed = 0;
    const cutoff = Date.now() - ORPHAN_AGE_MS;
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const shard of shards) {
      const folder = path.join(this.dir, shard);
      let names: string[];
      try {
        names = await readdir(folder);
      } catch {
        continue;
      }
      for (const name of names) {
        if (signal?.aborted) return removed;
        const file = path.join(folder, name);
        const info = await stat(file).catch(() => null);
        if (!info || !info.isFile() || info.mtimeMs > cutoff) continue;
        const orphan = shard === INCOMING || (this.files.isId(name) && (await this.files.read(name)) === null);
        if (orphan) {
          await rm(file, { force: true });
          removed += 1;
        }
      }
    }
    return removed;
  }

  private pathOf(storageId: string): string {
    if (!this.files.isId(storageId)) throw new GatewayError('InvalidStoragePath');
    // Sharded by the id's last characters (checksum bits): its first ones are
    // a timestamp and would put years of files in one folder.
    return path.join(this.dir, storageId.slice(-2), storageId);
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
