import type { IncomingMessage, ServerResponse } from 'node:http';
import { IncomingBody } from './request-body.js';
import { blobOf } from './spooled-blob.js';
import { forwardingFor, type Forwarding } from './forwarding.js';

// The WHATWG Request a handler receives. Building a native Request costs
// ~8 µs (URL parsing, a Headers copy, a body stream) and most handlers read
// one or two of its fields, so this object computes each field on first use
// straight from the Node request. Body reads go through IncomingBody, which
// enforces the route's limit. Anything exotic (`formData()`, `clone()`,
// passing it to `fetch` or `new Request`) gets a native Request built once.

const NativeRequest = globalThis.Request;
type NativeRequestT = InstanceType<typeof NativeRequest>;

const INTERNALS = Symbol('portico.request');

interface Internals {
  req: IncomingMessage;
  res: ServerResponse;
  body: IncomingBody | null;
  url: string | undefined;
  headers: Headers | undefined;
  controller: AbortController | undefined;
  /** Why the request was aborted before anyone asked for the signal. */
  abortReason: unknown;
  stream: ReadableStream<Uint8Array> | undefined;
  /** The stream was read to the end by text(), json()... */
  streamRead: boolean;
  native: NativeRequestT | undefined;
  forwarding: Forwarding;
}

const DIRECT = forwardingFor(false);

export class LazyRequest {
  declare [INTERNALS]: Internals;

  /**
   * @param body null for methods without a body (GET, HEAD, OPTIONS).
   * @param forwarding where `url` takes its scheme and host (server.trustProxy).
   */
  constructor(req: IncomingMessage, res: ServerResponse, body: IncomingBody | null, forwarding: Forwarding = DIRECT) {
    this[INTERNALS] = {
      req,
      res,
      body,
      url: undefined,
      headers: undefined,
      controller: undefined,
      abortReason: undefined,
      stream: undefined,
      streamRead: false,
      native: undefined,
      forwarding,
    };
  }

  get method(): string {
    return this[INTERNALS].req.method!;
  }

  get url(): string {
    const internals = this[INTERNALS];
    if (internals.url === undefined) {
      // HTTP/1.0 clients may leave Host out, and it may be empty.
      const { forwarding, req } = internals;
      internals.url = `${forwarding.scheme(req)}://${forwarding.host(req) || 'localhost'}${req.url}`;
    }
    return internals.url;
  }

  get headers(): Headers {
    const internals = this[INTERNALS];
    if (internals.headers === undefined) internals.headers = headersFromRaw(internals.req.rawHeaders);
    return internals.headers;
  }

  get signal(): AbortSignal {
    const internals = this[INTERNALS];
    if (internals.controller === undefined) {
      const controller = new AbortController();
      internals.controller = controller;
      const { res } = internals;
      if (internals.abortReason !== undefined) controller.abort(internals.abortReason);
      else if (res.destroyed && !res.writableFinished) controller.abort(clientGone());
      else {
        // Listening costs a little, so only requests whose handler looks at
        // the signal pay for it.
        res.once('close', () => {
          if (!res.writableFinished) controller.abort(clientGone());
        });
      }
    }
    return internals.controller.signal;
  }

  get body(): ReadableStream<Uint8Array> | null {
    const internals = this[INTERNALS];
    if (internals.body === null) return null;
    if (internals.stream === undefined) {
      if (internals.body.bodyUsed) {
        // Read already through text(), json()...: as with a native Request,
        // the getter still answers, with a stream that cannot be read again.
        internals.streamRead = true;
        internals.stream = new ReadableStream({ start: (controller) => controller.error(new TypeError('Body is unusable: Body has already been read')) });
      } else internals.stream = internals.body.stream();
    }
    return internals.stream;
  }

  get bodyUsed(): boolean {
    const internals = this[INTERNALS];
    if (internals.native) return internals.native.bodyUsed;
    // Handing out the stream does not use the body; reading it does (a
    // locked stream is the nearest observable sign of a reader).
    if (internals.stream !== undefined) return internals.streamRead || internals.stream.locked;
    return internals.body?.bodyUsed ?? false;
  }

  get cache(): RequestCache {
    return 'default';
  }
  get credentials(): RequestCredentials {
    return 'same-origin';
  }
  get destination(): RequestDestination {
    return '';
  }
  get integrity(): string {
    return '';
  }
  get keepalive(): boolean {
    return false;
  }
  get mode(): RequestMode {
    return 'cors';
  }
  get redirect(): RequestRedirect {
    return 'follow';
  }
  get referrer(): string {
    return this[INTERNALS].req.headers.referer ?? 'about:client';
  }
  get referrerPolicy(): ReferrerPolicy {
    return '';
  }
  get duplex(): 'half' {
    return 'half';
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString('utf8');
  }

  async json(): Promise<any> {
    return JSON.parse((await this.buffer()).toString('utf8'));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const buffer = await this.buffer();
    return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    const internals = this[INTERNALS];
    const type = internals.req.headers['content-type'] ?? '';
    // Large bodies become a file-backed Blob (see spooled-blob.ts), deleted when the response ends.
    if (internals.body !== null && internals.native === undefined && internals.stream === undefined) return blobOf(this.body!, type, internals.res);
    const buffer = await this.buffer();
    return new Blob([buffer as Uint8Array<ArrayBuffer>], { type });
  }

  formData(): Promise<FormData> {
    return this.toNative().formData();
  }

  clone(): NativeRequestT {
    return this.toNative().clone();
  }

  /** A native Request with the same method, URL, end-to-end headers and body stream. */
  toNative(): NativeRequestT {
    const internals = this[INTERNALS];
    if (!internals.native) {
      if (this.bodyUsed) throw new TypeError('Cannot construct a Request with a Request object that has already been used.');
      const init: RequestInit & { duplex?: 'half' } = { method: this.method, headers: headersFromRaw(internals.req.rawHeaders, CONNECTION_HEADERS), signal: this.signal };
      if (internals.body !== null) {
        init.body = this.body;
        init.duplex = 'half';
      }
      internals.native = new NativeRequest(this.url, init);
    }
    return internals.native;
  }

  private buffer(): Promise<Buffer> {
    const internals = this[INTERNALS];
    if (internals.native) return internals.native.arrayBuffer().then((buffer) => Buffer.from(buffer));
    const body = internals.body;
    if (body === null) {
      // GET, HEAD and OPTIONS have no body; reading it gives empty content.
      return Promise.resolve(Buffer.alloc(0));
    }
    // `if (request.body) await request.json()`: once the stream was handed
    // out, the bytes flow through it.
    if (internals.stream !== undefined) return readStream(internals);
    return body.buffer();
  }

  get [Symbol.toStringTag](): string {
    return 'Request';
  }
}

Object.setPrototypeOf(LazyRequest.prototype, NativeRequest.prototype);

async function readStream(internals: Internals): Promise<Buffer> {
  const stream = internals.stream!;
  if (internals.streamRead || stream.locked) throw new TypeError('Body is unusable: Body has already been read');
  internals.streamRead = true;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** Aborts `request.signal` (client gone, or the route timed out). */
export function abortRequest(request: LazyRequest, reason: unknown): void {
  const internals = request[INTERNALS];
  if (internals.controller) internals.controller.abort(reason);
  else if (internals.abortReason === undefined) internals.abortReason = reason;
}

export function isLazyRequest(value: unknown): value is LazyRequest {
  return typeof value === 'object' && value !== null && INTERNALS in value;
}

function clientGone(): Error {
  const error = new Error('The client disconnected');
  error.name = 'AbortError';
  return error;
}

function headersFromRaw(raw: string[], skip?: ReadonlySet<string>): Headers {
  const headers = new Headers();
  for (let i = 0; i < raw.length; i += 2) {
    if (skip === undefined || !skip.has(raw[i]!.toLowerCase())) headers.append(raw[i]!, raw[i + 1]!);
  }
  return headers;
}

// Headers that describe the client's connection to the gateway, not the
// message. The native Request is what `fetch(request)` re-sends, and
// undici's fetch refuses a request carrying transfer-encoding, keep-alive,
// upgrade, expect or a connection token other than close/keep-alive; Host
// comes from the URL, so `new Request(otherUrl, request)` reaches the other
// host instead of announcing this one. `request.headers` keeps them all.
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'proxy-connection', 'te', 'trailer']);

/** Re-points the prototype after fetch-globals installs its Request class. */
export function inheritFrom(RequestClass: typeof globalThis.Request): void {
  Object.setPrototypeOf(LazyRequest.prototype, RequestClass.prototype);
}
