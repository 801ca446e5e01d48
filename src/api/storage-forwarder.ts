import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tableNumberOf } from '../database/ids.js';
import { GatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import { closeAfterResponse } from '../gateway/gateway-responses.js';
import { answerHeaders, type Exchange } from '../gateway/gateway.js';
import { transportFailure } from '../backends/remote/transport-failure.js';
import { dispositionHeader, fileNameOrNull, STORAGE_HEADERS, type Disposition } from '../storage/file-headers.js';
import { hasAdminKey } from './api-caller.js';
import type { SubMount } from './function-api.js';

// /api/storage of a gateway tier in front of a remote function tier
// (backend.kind: remote): the files live there, so each request is
// forwarded, bodies streamed both ways, never buffered whole.

const FORWARDED_REQUEST_HEADERS = ['content-type', 'content-length', 'content-disposition', 'digest', 'range', 'if-none-match'];
const FORWARDED_RESPONSE_HEADERS = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag', 'digest', 'cache-control'];

/**
 * Forwards this tier's /api/storage requests to the function tier. Uploads
 * are held to this tier's body limit as they stream through (the far side's
 * limit may be larger). A caller holding this tier's admin key may use the
 * admin-only endpoints (delete, upload tokens): the request goes on with the
 * function tier's key, as this tier's own storage calls do; the caller's
 * Authorization header itself is never passed on.
 */
export class StorageForwarder implements SubMount {
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

/** GET or HEAD of a file (not the upload endpoints). */
function isFileRead(req: IncomingMessage, rest: string): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && rest !== '/storage/upload' && rest !== '/storage/upload_token';
}
