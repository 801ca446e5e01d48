import type { ServerResponse } from 'node:http';
import { defaultContentType, lightState, NativeResponse } from './light-response.js';
import { GatewayError, formatBytes } from './errors.js';

// Writes a handler's Response to the Node response: status, every header
// (several Set-Cookie included), then the body. Bodies whose bytes are
// already at hand (string, bytes, JSON) go out in one `end()`; streams are
// piped chunk by chunk with backpressure. Nothing over the route's response
// limit is ever delivered as a success: a body known to be too large is
// refused before the head is written, and a stream that grows past the limit
// has its connection destroyed so the client sees a broken transfer.

export interface SendOptions {
  /** HEAD: headers as for GET, no body. */
  head: boolean;
  /** Response body limit in bytes. */
  limit: number;
  /** Gateway headers, flat name/value pairs (x-request-id, CORS...). */
  extraHeaders: readonly string[];
  /**
   * `Origin` when the route has a CORS policy: appended to the response's
   * Vary header, and the handler's own Access-Control-* headers are dropped
   * (the gateway's policy answers; duplicates make browsers refuse).
   */
  vary: string | null;
}

export interface SendOutcome {
  status: number;
  /** Set when the body could not be delivered completely. */
  broken?: Error;
}

// Framing is the gateway's job: these describe the connection or the
// encoding of the bytes on the wire, which the handler does not control.
const DROPPED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);

const NO_BODY_STATUS = new Set([204, 304]);

/**
 * Sends `response`. Throws a GatewayError (before anything is written) when
 * the response is unusable or known to be over the limit. Bodies already in
 * memory are written synchronously (no promise); streams and Blobs return one.
 */
export function sendResponse(res: ServerResponse, response: Response, options: SendOptions): SendOutcome | Promise<SendOutcome> {
  const status = response.status;
  if (status === 0) throw new TypeError('Response.error() cannot be sent as an HTTP response');

  const state = lightState(response);
  const headers: string[] = [];
  let flags: number;
  let body: unknown;
  let stream: ReadableStream<Uint8Array> | null = null;

  if (state !== undefined && state.native === undefined) {
    body = state.body;
    if (body instanceof FormData || (typeof body === 'object' && body !== null && !isBytes(body) && !(body instanceof Blob) && !(body instanceof URLSearchParams) && !(body instanceof ReadableStream))) {
      // Multipart encoding and exotic bodies: let the native Response do it.
      return sendNative((response as any).toNative(), res, options);
    }
    flags = copyHeaders(state.headers ?? state.init?.headers, headers, options.vary);
    if ((flags & HAS_CONTENT_TYPE) === 0) {
      const type = defaultContentType(body);
      if (type) headers.push('content-type', type);
    }
    if (body instanceof ReadableStream) {
      stream = body;
      body = undefined;
    } else if (body instanceof URLSearchParams) {
      body = body.toString();
    } else if (body !== null && typeof body !== 'string' && !isBytes(body) && !(body instanceof Blob)) {
      body = String(body);
    }
  } else {
    return sendNative(state?.native ?? (response as InstanceType<typeof NativeResponse>), res, options);
  }

  appendExtra(headers, flags, options);
  return writeBody(res, status, reasonOf(state.init?.statusText), headers, body, stream, options);
}

function sendNative(response: InstanceType<typeof NativeResponse>, res: ServerResponse, options: SendOptions): SendOutcome | Promise<SendOutcome> {
  const headers: string[] = [];
  const flags = copyHeaders(response.headers, headers, options.vary);
  appendExtra(headers, flags, options);
  return writeBody(res, response.status, reasonOf(response.statusText), headers, null, response.body, options);
}

/**
 * The handler's status text for the status line; undefined lets Node use the
 * standard reason phrase (an empty string would send a line without one).
 */
function reasonOf(statusText: string | undefined): string | undefined {
  return statusText ? statusText : undefined;
}

function writeBody(
  res: ServerResponse,
  status: number,
  reason: string | undefined,
  headers: string[],
  body: unknown,
  stream: ReadableStream<Uint8Array> | null,
  options: SendOptions,
): SendOutcome | Promise<SendOutcome> {
  if (NO_BODY_STATUS.has(status)) {
    stream?.cancel().catch(() => {});
    res.writeHead(status, reason, headers);
    res.end();
    return { status };
  }

  if (stream === null) {
    let length: number;
    if (body === null || body === undefined) length = 0;
    else if (typeof body === 'string') length = Buffer.byteLength(body);
    else if (body instanceof Blob) length = body.size;
    else length = (body as ArrayBufferView | ArrayBuffer).byteLength;
    if (length > options.limit) throw responseTooLarge(options.limit);
    headers.push('content-length', String(length));

    if (body instanceof Blob && !options.head) {
      if (length > 65_536) return pipeStream(res, status, reason, headers, body.stream(), options.limit, false);
      return body.arrayBuffer().then((bytes) => {
        res.writeHead(status, reason, headers);
        res.end(Buffer.from(bytes));
        return { status };
      });
    }
    res.writeHead(status, reason, headers);
    if (options.head || length === 0 || body instanceof Blob) res.end();
    else res.end(typeof body === 'string' ? body : toBuffer(body as ArrayBuffer | ArrayBufferView));
    return { status };
  }

  if (options.head) {
    stream.cancel().catch(() => {});
    res.writeHead(status, reason, headers);
    res.end();
    return { status };
  }
  return pipeStream(res, status, reason, headers, stream, options.limit, true);
}

async function pipeStream(
  res: ServerResponse,
  status: number,
  reason: string | undefined,
  headers: string[],
  stream: ReadableStream<Uint8Array>,
  limit: number,
  flushHead: boolean,
): Promise<SendOutcome> {
  res.writeHead(status, reason, headers);
  // A stream may take its time to produce its first chunk (server-sent
  // events): the client gets the head now.
  if (flushHead) res.flushHeaders();
  const reader = stream.getReader();
  // A connection that closes (client gone, or the route timed out) releases
  // a stream that is waiting for its next chunk.
  const release = () => {
    if (!res.writableFinished) reader.cancel().catch(() => {});
  };
  res.once('close', release);
  let sent = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) {
        await reader.cancel().catch(() => {});
        return { status, broken: new Error('The client disconnected while the response was streaming') };
      }
      const chunk = typeof value === 'string' ? Buffer.from(value) : value;
      if (!isBytes(chunk)) throw new TypeError('Response body chunks must be Uint8Array');
      sent += chunk.byteLength;
      if (sent > limit) {
        await reader.cancel().catch(() => {});
        res.destroy();
        return { status, broken: responseTooLarge(limit) };
      }
      if (!res.write(chunk)) await drained(res);
    }
  } catch (error) {
    // The head is out: the only honest signal left is a broken transfer.
    res.destroy();
    return { status, broken: error as Error };
  } finally {
    res.off('close', release);
  }
  if (res.destroyed) return { status, broken: new Error('The connection closed while the response was streaming') };
  res.end();
  return { status };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const HAS_CONTENT_TYPE = 1;
const VARY_MERGED = 2;

/**
 * Copies handler headers into `out`, merging `vary` into the handler's own
 * Vary header when it has one. Returns HAS_CONTENT_TYPE | VARY_MERGED flags.
 */
function copyHeaders(init: HeadersInit | undefined, out: string[], vary: string | null): number {
  if (init === undefined || init === null) return 0;
  let flags = 0;
  const add = (name: string, value: string) => {
    const lower = name.toLowerCase();
    if (DROPPED.has(lower)) return;
    if (vary !== null && lower.startsWith('access-control-')) return;
    if (lower === 'content-type') flags |= HAS_CONTENT_TYPE;
    else if (lower === 'vary' && vary !== null && (flags & VARY_MERGED) === 0) {
      value = mergeVary(value, vary);
      flags |= VARY_MERGED;
    }
    out.push(name, value);
  };
  if (init instanceof Headers) {
    for (const [name, value] of init) add(name, value);
  } else if (Array.isArray(init)) {
    for (const pair of init) add(pair[0]!, String(pair[1]));
  } else {
    for (const name in init) add(name, String((init as Record<string, string>)[name]));
  }
  return flags;
}

function appendExtra(headers: string[], flags: number, options: SendOptions): void {
  if (options.vary !== null && (flags & VARY_MERGED) === 0) headers.push('vary', options.vary);
  for (let i = 0; i < options.extraHeaders.length; i++) headers.push(options.extraHeaders[i]!);
}

function mergeVary(existing: string, token: string): string {
  if (existing.trim() === '*') return existing;
  const lower = token.toLowerCase();
  for (const part of existing.split(',')) if (part.trim().toLowerCase() === lower) return existing;
  return existing ? `${existing}, ${token}` : token;
}

function isBytes(value: unknown): value is ArrayBuffer | ArrayBufferView {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toBuffer(bytes: ArrayBuffer | ArrayBufferView): Buffer {
  if (bytes instanceof ArrayBuffer) return Buffer.from(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function responseTooLarge(limit: number): GatewayError {
  return new GatewayError('ResponseTooLarge', `The response body is over this route's limit of ${formatBytes(limit)}`);
}
