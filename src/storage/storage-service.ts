import type { Readable } from 'node:stream';
import type { WriteTx } from '../database/store.js';

// File storage behind `ctx.storage` and /api/storage. Bytes live on disk
// (fs) or in the database (database); metadata always lives in the database,
// and a file's metadata is only written once its bytes are safely stored.

export interface StoredFile {
  storageId: string;
  /** Hex sha256 of the bytes. */
  sha256: string;
  size: number;
  contentType: string | null;
  /** The name given at upload (Content-Disposition, or a File's name), if any. */
  fileName?: string | null;
  creationTime: number;
}

export interface StoreOptions {
  contentType: string | null;
  /** Kept with the metadata and sent back in Content-Disposition (already cleaned). */
  fileName?: string | null;
  /** Refuse the file when its bytes do not hash to this (base64 sha256). */
  expectedSha256?: string;
  /** Refuse bodies longer than this many bytes. */
  limit?: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface StorageService {
  store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile>;
  metadata(storageId: string): Promise<StoredFile | null>;
  /** A stream of the file's bytes (or of one range of them), or null when missing. */
  open(storageId: string, range?: ByteRange): Promise<{ file: StoredFile; stream: Readable } | null>;
  /** The file as a Blob that reads its bytes only when consumed, or null when missing. */
  blob(storageId: string): Promise<Blob | null>;
  /** Deletes the file; false when there was none. */
  delete(storageId: string): Promise<boolean>;
  /**
   * The same files seen from inside a mutation: metadata is read and written
   * in the mutation's transaction `tx`, so it commits or rolls back with the
   * mutation's other writes. Absent where the metadata is not in a local
   * database (a remote backend).
   */
  inTransaction?(tx: WriteTx): StorageService;
}

/**
 * Where a local storage keeps the bytes of its files, apart from their
 * metadata: what a mutation's transaction needs to put the metadata in
 * itself (see transaction-storage.ts).
 */
export interface FileBytes {
  /** Stores the bytes durably under a fresh id; no metadata is written. */
  writeBytes(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile>;
  /** The bytes (or one range of them) of a file whose metadata was read. */
  streamOf(file: StoredFile, range?: ByteRange): Readable;
  blobOf(file: StoredFile): Promise<Blob>;
  /** Removes the bytes of a file that has no metadata (any more). */
  removeBytes(storageId: string): Promise<void>;
}
