import type { WriteTx } from '../database/store.js';
import type { FileMetadata } from './file-metadata.js';
import type { ByteRange, FileBytes, StorageService, StoreOptions, StoredFile } from './storage-service.js';
import { asDiskFull } from './disk-full.js';

// ctx.storage inside a mutation. The file's metadata is a document of the
// mutation's transaction, like every other write of the mutation: it
// commits with them or not at all, and a file stored earlier in the same
// mutation is visible to getUrl/get. (It could not be a transaction of its
// own anyway: on SQLite that one would queue on the single write lane
// behind the very mutation waiting for it.)
//
// Bytes are not transactional, so the usual order keeps metadata from ever
// pointing at missing bytes:
//  - store writes the bytes first; if the mutation then rolls back, they
//    are an orphan for the sweep;
//  - delete removes the metadata in the transaction and the bytes only once
//    that deletion has committed (onCommit); if the mutation rolls back,
//    the file stays whole.

export class TransactionStorage implements StorageService {
  constructor(
    private readonly bytes: FileBytes,
    private readonly files: FileMetadata,
    private readonly tx: WriteTx,
  ) {}

  async store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const file = await this.bytes.writeBytes(bytes, options);
    try {
      await this.files.insertIn(this.tx, file);
    } catch (error) {
      await this.bytes.removeBytes(file.storageId).catch(() => {});
      throw asDiskFull(error);
    }
    return file;
  }

  metadata(storageId: string): Promise<StoredFile | null> {
    return this.files.readIn(this.tx, storageId);
  }

  async open(storageId: string, range?: ByteRange) {
    const file = await this.metadata(storageId);
    return file && { file, stream: this.bytes.streamOf(file, range) };
  }

  async blob(storageId: string): Promise<Blob | null> {
    const file = await this.metadata(storageId);
    return file && this.bytes.blobOf(file);
  }

  async delete(storageId: string): Promise<boolean> {
    const existed = await this.files.deleteIn(this.tx, storageId);
    if (existed) {
      // A failure leaves an orphan, which the sweep removes.
      this.tx.onCommit(() => void this.bytes.removeBytes(storageId).catch(() => {}));
    }
    return existed;
  }
}
