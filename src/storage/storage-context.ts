import { Readable } from 'node:stream';
import { isGatewayError } from '../http/errors.js';
import type { FileMetadata as FileMetadataView, StorageActionWriter } from '../functions/context-types.js';
import type { GenericId } from '../database/api-types.js';
import type { WriteTx } from '../database/store.js';
import type { StorageService } from './storage-service.js';
import { cleanFileName } from './file-headers.js';

// `ctx.storage` as functions see it, as in Convex: queries may only look
// files up (getUrl, getMetadata); mutations may also generate upload URLs,
// delete, store and get; actions and HTTP actions may do everything. A
// mutation's context is given its transaction, and the file metadata it
// reads and writes is part of it (transaction-storage.ts).

export type StorageContext = StorageActionWriter;
export type StorageMode = 'reader' | 'writer' | 'action';

/** Where files are served and uploaded; the base is known once the server listens. */
export interface StorageUrls {
  /** `<base>/api/storage/<id>`, or null when the function API is off. */
  file(storageId: string): string | null;
  upload(token: string): string | null;
}

export class StorageContextImpl implements StorageContext {
  private readonly storage: StorageService;

  constructor(
    storage: StorageService,
    private readonly urls: StorageUrls,
    private readonly uploadToken: () => Promise<string>,
    private readonly mode: StorageMode,
    tx?: WriteTx,
  ) {
    this.storage = tx && storage.inTransaction ? storage.inTransaction(tx) : storage;
  }

  async getUrl(storageId: string): Promise<string | null> {
    const file = await this.storage.metadata(checkId(storageId, 'getUrl'));
    return file ? this.urls.file(file.storageId) : null;
  }

  async getMetadata(storageId: string): Promise<FileMetadataView | null> {
    const file = await this.storage.metadata(checkId(storageId, 'getMetadata'));
    if (!file) return null;
    return { storageId: file.storageId as GenericId<'_storage'>, sha256: file.sha256, size: file.size, contentType: file.contentType };
  }

  async generateUploadUrl(): Promise<string> {
    this.allow('generateUploadUrl', 'writer');
    const url = this.urls.upload(await this.uploadToken());
    if (url === null) throw new Error('generateUploadUrl(): the function API is turned off (api: false), so there is no upload endpoint');
    return url;
  }

  async delete(storageId: string): Promise<void> {
    this.allow('delete', 'writer');
    const deleted = await this.storage.delete(checkId(storageId, 'delete'));
    if (!deleted) throw new Error(`storage id ${storageId} not found`);
  }

  async store(blob: Blob | Request, options?: { sha256?: string }): Promise<GenericId<'_storage'>> {
    this.allow('store', 'writer');
    // A Request (as the HTTP endpoints of older Convex code pass it) is
    // streamed to storage as it arrives, never held whole in memory.
    const request = isRequest(blob) ? blob : null;
    if (!request && !(blob instanceof Blob)) {
      throw new TypeError('store() expects a Blob or a Request');
    }
    if (request?.bodyUsed) throw new TypeError('store(): the request body has already been read');
    try {
      const file = await this.storage.store(request ? requestBytes(request) : Readable.fromWeb((blob as Blob).stream() as any), {
        contentType: request ? request.headers.get('content-type') || null : (blob as Blob).type || null,
        // A File keeps its name, served back in Content-Disposition.
        fileName: blob instanceof File ? cleanFileName(blob.name) : null,
        ...(options?.sha256 !== undefined ? { expectedSha256: options.sha256 } : {}),
      });
      return file.storageId as GenericId<'_storage'>;
    } catch (error) {
      // The storage service speaks HTTP (a Sha256Mismatch is a 400 on the
      // upload endpoint); inside a function it is the function's own error,
      // which an HTTP action turns into a 500, as in Convex.
      if (isGatewayError(error)) throw new Error(error.message);
      throw error;
    }
  }

  async get(storageId: string): Promise<Blob | null> {
    this.allow('get', 'writer');
    return this.storage.blob(checkId(storageId, 'get'));
  }

  private allow(method: string, needs: 'writer'): void {
    if (this.mode === 'reader' && needs === 'writer') {
      throw new Error(`ctx.storage.${method}() is not available in queries; use a mutation or an action`);
    }
  }
}

function isRequest(value: unknown): value is Request {
  return value instanceof Request || (typeof value === 'object' && value !== null && !(value instanceof Blob) && typeof (value as Request).headers?.get === 'function' && 'body' in value && typeof (value as Request).arrayBuffer === 'function');
}

function requestBytes(request: Request): AsyncIterable<Uint8Array> {
  const body = request.body;
  return body ? Readable.fromWeb(body as any) : Readable.from([]);
}

function checkId(storageId: unknown, method: string): string {
  if (typeof storageId !== 'string') throw new Error(`Invalid argument \`storageId\` for \`storage.${method}\`: expected a string`);
  return storageId;
}
