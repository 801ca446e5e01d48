import { Readable } from 'node:stream';
import { tableNumberOf } from '../../database/ids.js';
import { GatewayError } from '../../http/errors.js';
import type { StorageParts } from '../../storage/storage-parts.js';
import type { ByteRange, StorageService, StoreOptions, StoredFile } from '../../storage/storage-service.js';
import { dispositionHeader, fileNameOrNull } from '../../storage/file-headers.js';
import { transportFailure } from './transport-failure.js';

// Files of a gateway tier in front of a remote function tier: they live on
// the function tier, reached through its storage endpoints with the admin
// key. Clients of the gateway tier still use this tier's /api/storage URLs;
// api/storage-forwarder.ts forwards those.

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
      endpoint: { kind: 'remote', url: this.url, adminKey: this.adminKey },
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

function remoteError(status: number, body: { code?: string; message?: string } | null): Error {
  if (body?.code === 'Sha256Mismatch') return new GatewayError('Sha256Mismatch', body.message);
  if (body?.code === 'PayloadTooLarge') return new GatewayError('PayloadTooLarge', body.message);
  // The tier's own failures are the gateway's to report, as for function calls.
  if (status === 503) return new GatewayError('BackendUnavailable', `The function backend's storage is unavailable${body?.message ? `: ${body.message}` : ''}`);
  if (status >= 500) return new GatewayError('BadGateway', `The function backend's storage answered ${status}${body?.message ? `: ${body.message}` : ''}`);
  return new Error(`The function backend's storage answered ${status}${body?.message ? `: ${body.message}` : ''}`);
}
