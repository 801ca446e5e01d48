import type { Readable } from 'node:stream';

// File storage behind `ctx.storage` and /api/storage. Bytes live on disk
// (fs) or in the database (database); metadata always lives in the database,
// and a file's metadata is only written once its bytes are safely stored.

export interface StoredFile {
  storageId: string;
  /** Hex sha256 of the bytes. */
  sha256: string;
  size: number;
  contentType: string | null;
  creationTime: number;
}

export interface StoreOptions {
  contentType: string | null;
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
}
