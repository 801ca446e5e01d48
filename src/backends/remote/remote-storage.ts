import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tableNumberOf } from '../../database/ids.js';
import { GatewayError } from '../../http/errors.js';
import { IncomingBody } from '../../http/request-body.js';
import { hasAdminKey } from '../../api/api-caller.js';
import { closeAfterResponse } from '../../gateway/gateway-responses.js';
import { answerHeaders, type Exchange } from '../../gateway/gateway.js';
import type { SubMount } from '../../api/function-api.js';
import type { StorageParts } from '../../server/resources.js';
import type { ByteRange, StorageService, StoreOptions, StoredFile } from '../../storage/storage-service.js';
import { dispositionHeader, fileNameOf, STORAGE_HEADERS, type Disposition } from '../../storage/file-headers.js';
import { transportFailure } from './remote-backend.js';

// Files of a gateway tier in front of a remote function tier: they live on
// the function tier, reached through its storage endpoints with the admin
// key. Clients of the gateway tier still use this tier's /api/storage URLs;
// those are forwarded (bodies streamed both ways, never buffered whole).

const FORWARDED_REQUEST_HEADERS = ['content-type', 'content-length', 'content-disposition', 'digest', 'range', 'if-none-match'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag', 'digest', 'cache-control'];

export class RemoteStorage implements StorageService {
  constructor(
    private readonly url: string,
    private readonly adminKey: string,
    /** As the backend's calls: past the gateway's own timeout nobody waits for the answer. */
    private readonly timeoutMs = 120_000,
  ) {}

  /** fetch, bounded by the timeout; a tier that is down, breaks off or stalls is a catalogue 503, 502 or 504. */
  private async send(url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw transportFailure(error, this.url, this.timeoutMs);
    }
  }

  parts(): StorageParts {
    return {
      service: this,
      // The far side's table numbers are not known here; a malformed id is
      // still refused before any request is made.
      isId: (id) => tableNumberOf(id) !== null,
      uploadToken: () => this.uploadToken(),
      http: (uploadLimit, adminKey, disposition) => new StorageForwarder(this.url, this.adminKey, uploadLimit, adminKey, disposition),
      // Nothing runs in the background here: the function tier sweeps its own files.
      close: () => {},
    };
  }

  async store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions): Promise<StoredFile> {
    const headers: Record<string, string> = { authorization: `Convex ${this.adminKey}` };
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.expectedSha256) headers.digest = `sha-256=${options.expectedSha256}`;
    if (options.fileName) headers['content-disposition'] = dispositionHeader('attachment', options.fileName);
    const response = await this.send(`${this.url}/api/storage/upload`, {
      method: 'POST',
      headers,
      body: Readable.toWeb(Readable.from(bytes)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    const body = (await response.json().catch(() => null)) as { storageId?: string; code?: string; message?: string } | null;
    if (!response.ok || !body?.storageId) throw remoteError(response.status, body);
    const file = await this.metadata(body.storageId);
    if (!file) throw new Error(`The function backend lost file ${body.storageId} right after storing it`);
    return file;
  }

  async metadata(storageId: string): Promise<StoredFile | null> {
    const response = await this.send(this.fileUrl(storageId), { method: 'HEAD' });
    if (response.status === 404 || response.status === 400) return null;
    if (!response.ok) throw remoteError(response.status, null);
    const digest = /sha-256=([A-Za-z0-9+/=]+)/i.exec(response.headers.get('digest') ?? '')?.[1] ?? '';
    return {
      storageId,
      sha256: Buffer.from(digest, 'base64').toString('hex'),
      size: Number(response.headers.get('content-length') ?? 0),
      contentType: response.headers.get('content-type'),
      fileName: fileNameOrNull(response.headers.get('content-disposition')),
      creationTime: 0,
    };
  }

  async open(storageId: string, range?: ByteRange) {
    const file = await this.metadata(storageId);
    if (!file) return null;
    const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end}` } : {};
    const response = await this.send(this.fileUrl(storageId), { headers });
    if (!response.ok || !response.body) throw remoteError(response.status, null);
    return { file, stream: Readable.fromWeb(response.body as any) };
  }

  async blob(storageId: string): Promise<Blob | null> {
    const response = await this.send(this.fileUrl(storageId));
    if (response.status === 404 || response.status === 400) return null;
    if (!response.ok) throw remoteError(response.status, null);
    try {
      return await response.blob();
    } catch (error) {
      throw transportFailure(error, this.url, this.timeoutMs);
    }
  }

  async delete(storageId: string): Promise<boolean> {
    const response = await this.send(this.fileUrl(storageId), { method: 'DELETE', headers: { authorization: `Convex ${this.adminKey}` } });
    if (response.status === 404 || response.status === 400) return false;
    if (!response.ok) throw remoteError(response.status, await response.json().catch(() => null));
    return true;
  }

  private async uploadToken(): Promise<string> {
    const response = await this.send(`${this.url}/api/storage/upload_token`, { method: 'POST', headers: { authorization: `Convex ${this.adminKey}` } });
    const body = (await response.json().catch(() => null)) as { token?: string; code?: string; message?: string } | null;
    if (!response.ok || !body?.token) throw remoteError(response.status, body);
    return body.token;
  }

  private fileUrl(storageId: string): string {
    return `${this.url}/api/storage/${encodeURIComponent(storageId)}`;
  }
}

/**
 * Forwards this tier's /api/storage requests to the function tier. Uploads
 * are held to this tier's body limit as they stream through (the far side's
 * limit may be larger). A caller holding this tier's admin key may use the
 * admin-only endpoints (delete, upload tokens): the request goes on with the
 * function tier's key, as this tier's own storage calls do; the caller's
 * Authorization header itself is never passed on.
 */
class StorageForwarder implements SubMount {
  constructor(
    private readonly url: string,
    private readonly remoteAdminKey: string,
    private readonly uploadLimit: number,
    private readonly adminKey: string | null,
    private readonly disposition: (contentType: string | null) => Disposition,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rest: string): Promise<number> | null {
    if (!rest.startsWith('/storage/')) return null;
    return this.forward(req, res, exchange, rest);
  }

  private async forward(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rest: string): Promise<number> {
    exchange.handler = '(storage, remote)';
    // This tier's origin serves the file, so this tier's policy decides how
    // (the function tier's own headers are not passed on).
    exchange.headers.push(...STORAGE_HEADERS);
    const query = req.url!.indexOf('?');
    const target = `${this.url}/api${fileTarget(rest)}${query === -1 ? '' : req.url!.slice(query)}`;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (hasAdminKey(req, this.adminKey)) headers.authorization = `Convex ${this.remoteAdminKey}`;

    let body: IncomingBody | undefined;
    if (req.method === 'POST') {
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > this.uploadLimit) {
        closeAfterResponse(res);
        throw GatewayError.payloadTooLarge(this.uploadLimit);
      }
      body = new IncomingBody(req, res, this.uploadLimit);
    }
    let response: Response;
    try {
      response = await fetch(target, {
        method: req.method!,
        headers,
        body: body?.stream(),
        duplex: body ? 'half' : undefined,
      } as RequestInit);
    } catch (error) {
      if (body?.tooLarge) {
        closeAfterResponse(res);
        throw GatewayError.payloadTooLarge(this.uploadLimit);
      }
      // The function tier is down or broke off: a catalogue 503/502, not an internal error.
      throw transportFailure(error, this.url, 0);
    }
    const out = [...answerHeaders(exchange)];
    for (const name of FORWARDED_RESPONSE_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) out.push(name, value);
    }
    if (isFileRead(req, rest) && response.status < 400) {
      const fileName = fileNameOrNull(response.headers.get('content-disposition'));
      out.push('content-disposition', dispositionHeader(this.disposition(response.headers.get('content-type')), fileName));
    }
    res.writeHead(response.status, out);
    if (!response.body || req.method === 'HEAD') {
      res.end();
      return response.status;
    }
    await pipeline(Readable.fromWeb(response.body as any), res).catch(() => res.destroy());
    return response.status;
  }
}

/**
 * The far side's path for `rest`. A file's id is checked here, as the
 * function tier would check it: sent on as it came, dot segments such as
 * %2e%2e would be resolved by the URL parser and reach another endpoint.
 */
function fileTarget(rest: string): string {
  if (rest === '/storage/upload' || rest === '/storage/upload_token') return rest;
  let id: string;
  try {
    id = decodeURIComponent(rest.slice('/storage/'.length));
  } catch {
    throw new GatewayError('InvalidStoragePath', 'The storage id is not valid percent-encoding');
  }
  if (tableNumberOf(id) === null) throw new GatewayError('InvalidStoragePath', 'Not a storage id');
  return `/storage/${encodeURIComponent(id)}`;
}

/** The file name in the function tier's Content-Disposition; its header is trusted no further. */
function fileNameOrNull(header: string | null): string | null {
  try {
    return fileNameOf(header ?? undefined);
  } catch {
    return null;
  }
}

/** GET or HEAD of a file (not the upload endpoints). */
function isFileRead(req: IncomingMessage, rest: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && rest !== '/storage/upload' && rest !== '/storage/upload_token';
}

function remoteError(status: number, body: { code?: string; message?: string } | null): Error {
  if (body?.code === 'Sha256Mismatch') return new GatewayError('Sha256Mismatch', body.message);
  if (body?.code === 'PayloadTooLarge') return new GatewayError('PayloadTooLarge', body.message);
  // The tier's own failures are the gateway's to report, as for function calls.
  if (status === 503) return new GatewayError('BackendUnavailable', `The function backend's storage is unavailable${body?.message ? `: ${body.message}` : ''}`);
  if (status >= 500) return new GatewayError('BadGateway', `The function backend's storage answered ${status}${body?.message ? `: ${body.message}` : ''}`);
  return new Error(`The function backend's storage answered ${status}${body?.message ? `: ${body.message}` : ''}`);
}
