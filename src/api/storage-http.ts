import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import parseRange from 'range-parser';
import { GatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import { answerHeaders, type Exchange } from '../gateway/gateway.js';
import { closeAfterResponse, writeJson } from '../gateway/gateway-responses.js';
import type { SubMount } from './function-api.js';
import { hasAdminKey } from './api-caller.js';
import type { StorageService } from '../storage/storage-service.js';
import { dispositionHeader, fileNameOf, STORAGE_HEADERS, type Disposition } from '../storage/file-headers.js';
import type { UploadTokens } from '../storage/upload-tokens.js';
import type { StorageParts } from '../storage/storage-parts.js';
import { StorageForwarder } from './storage-forwarder.js';

// Files over HTTP, under the function API prefix, as Convex serves them:
//   GET|HEAD /storage/<id>           the bytes, with Content-Type, Content-Length,
//                                    ETag, Digest, Cache-Control; one byte range (206)
//   POST /storage/upload?token=...   raw bytes in, {"storageId": ...} out; an optional
//                                    Content-Disposition filename is kept and served back
// Ids are checked to be storage ids before anything else happens: a
// malformed one is a 400 InvalidStoragePath, an unknown one a 404 FileNotFound.
// A gateway tier in front of this deployment (backend.kind: remote) also
// uses, with the admin key: POST /storage/upload without a token,
// POST /storage/upload_token, and DELETE /storage/<id>.

const CACHE_CONTROL = 'private, max-age=2592000';

export class StorageHttp implements SubMount {
  constructor(
    private readonly storage: StorageService,
    private readonly tokens: UploadTokens,
    private readonly isStorageId: (id: string) => boolean,
    private readonly uploadLimit: number,
    private readonly adminKey: string | null,
    private readonly disposition: (contentType: string | null) => Disposition,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rest: string): Promise<number> | null {
    if (rest === '/storage/upload') {
      if (req.method !== 'POST') throw new GatewayError('MethodNotAllowed', 'Upload with POST').withHeaders([['allow', 'POST, OPTIONS']]);
      return this.upload(req, res, exchange);
    }
    if (rest === '/storage/upload_token' && req.method === 'POST') {
      this.requireAdmin(req);
      writeJson(res, 200, { token: this.tokens.issue() }, answerHeaders(exchange));
      return Promise.resolve(200);
    }
    if (rest.startsWith('/storage/')) {
      // Before anything can fail: error answers on a file's URL are inert too.
      exchange.headers.push(...STORAGE_HEADERS);
      const id = rest.slice('/storage/'.length);
      if (req.method === 'DELETE') return this.remove(req, res, exchange, id);
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatewayError('MethodNotAllowed', 'Files are read with GET').withHeaders([['allow', 'GET, HEAD, OPTIONS']]);
      return this.serve(req, res, exchange, id);
    }
    return null;
  }

  private requireAdmin(req: IncomingMessage): void {
    if (!hasAdminKey(req, this.adminKey)) throw new GatewayError('BadAdminKey', 'This storage endpoint requires the admin key');
  }

  private async remove(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rawId: string): Promise<number> {
    this.requireAdmin(req);
    const id = decodeId(rawId);
    if (!this.isStorageId(id)) throw new GatewayError('InvalidStoragePath', 'Not a storage id');
    const deleted = await this.storage.delete(id);
    if (!deleted) throw new GatewayError('FileNotFound', `No file with id ${id}`);
    writeJson(res, 200, { deleted: true }, answerHeaders(exchange));
    return 200;
  }

  private async serve(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rawId: string): Promise<number> {
    const id = decodeId(rawId);
    if (!this.isStorageId(id)) throw new GatewayError('InvalidStoragePath', 'Not a storage id');
    exchange.handler = '(storage)';
    const file = await this.storage.metadata(id);
    if (!file) throw new GatewayError('FileNotFound', `No file with id ${id}`);

    const etag = `"${file.sha256}"`;
    const headers = [
      ...answerHeaders(exchange),
      'etag', etag,
      'cache-control', CACHE_CONTROL,
      'accept-ranges', 'bytes',
      'digest', `sha-256=${Buffer.from(file.sha256, 'hex').toString('base64')}`,
    ];
    if (file.contentType) headers.push('content-type', file.contentType);
    headers.push('content-disposition', dispositionHeader(this.disposition(file.contentType), file.fileName));
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }

    let status = 200;
    let range: { start: number; end: number } | undefined;
    const rangeHeader = req.headers.range;
    if (rangeHeader !== undefined && file.size > 0) {
      const ranges = parseRange(file.size, rangeHeader, { combine: true });
      if (ranges === -1 || (Array.isArray(ranges) && ranges.length > 1)) {
        const error = new GatewayError('RangeNotSatisfiable', `The file has ${file.size} bytes; one range within them can be served`);
        throw error.withHeaders([['accept-ranges', 'bytes'], ['content-range', `bytes */${file.size}`]]);
      }
      // -2 is a malformed header: ignored, as RFC 9110 says, and the whole file is sent.
      if (Array.isArray(ranges) && ranges.type === 'bytes') {
        range = { start: ranges[0]!.start, end: ranges[0]!.end };
        status = 206;
        headers.push('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
      }
    }
    const length = range ? range.end - range.start + 1 : file.size;
    headers.push('content-length', String(length));
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return status;
    }
    const opened = await this.storage.open(id, range);
    if (!opened) {
      res.destroy();
      return status;
    }
    // Streamed from where the bytes are kept, never whole in memory.
    await pipeline(opened.stream, res).catch(() => res.destroy());
    return status;
  }

  private async upload(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number> {
    exchange.handler = '(storage upload)';
    const token = new URL(req.url!, 'http://x').searchParams.get('token');
    if (token !== null || !hasAdminKey(req, this.adminKey)) {
      const check = this.tokens.check(token);
      if (check !== 'valid') {
        // Node would read and discard the refused body to keep the
        // connection: whoever has no token could make it read gigabytes.
        if (!req.complete) closeAfterResponse(res);
        throw new GatewayError(check === 'expired' ? 'StorageTokenExpired' : 'StorageTokenInvalid');
      }
    }

    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > this.uploadLimit) {
      closeAfterResponse(res);
      throw GatewayError.payloadTooLarge(this.uploadLimit);
    }
    const expectedSha256 = digestOf(req.headers.digest);
    const fileName = fileNameOf(req.headers['content-disposition']);
    const body = new IncomingBody(req, res, this.uploadLimit);
    try {
      const file = await this.storage.store(body.stream(), {
        contentType: req.headers['content-type'] ?? null,
        fileName,
        limit: this.uploadLimit,
        ...(expectedSha256 !== undefined ? { expectedSha256 } : {}),
      });
      writeJson(res, 200, { storageId: file.storageId }, answerHeaders(exchange));
      return 200;
    } catch (error) {
      // Whatever the client is still sending is not read.
      if (!body.fullyRead) closeAfterResponse(res);
      throw error;
    }
  }
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatewayError('InvalidStoragePath', 'The storage id is not valid percent-encoding');
  }
}

/** The base64 sha-256 in a `Digest: sha-256=<base64>` header, if there is one. */
function digestOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of [header].flat().join(',').split(',')) {
    const match = /^\s*sha-256=([A-Za-z0-9+/=]+)\s*$/i.exec(part);
    if (match) return match[1];
  }
  throw new GatewayError('BadRequest', 'The Digest header must hold sha-256=<base64>');
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((candidate) => {
    const trimmed = candidate.trim();
    return trimmed === '*' || trimmed === etag || trimmed === `W/${etag}`;
  });
}

/** The /storage endpoints for `storage`: served from its own files, or forwarded to the function tier that has them. */
export function storageMount(storage: StorageParts, uploadLimit: number, adminKey: string | null, disposition: (contentType: string | null) => Disposition): SubMount {
  const { endpoint } = storage;
  if (endpoint.kind === 'remote') return new StorageForwarder(endpoint.url, endpoint.adminKey, uploadLimit, adminKey, disposition);
  return new StorageHttp(storage.service, endpoint.tokens, storage.isId, uploadLimit, adminKey, disposition);
}
