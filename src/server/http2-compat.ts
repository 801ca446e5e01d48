// HTTP/2 requests in the shape the gateway reads from HTTP/1.1 ones. Node's
// compatibility objects carry the pseudo-headers (:path, :authority...) among
// the headers and no Host; and HTTP/2 forbids the connection-specific fields
// of HTTP/1.1 (RFC 9113 8.2.2): Node throws on most of them, which would turn
// a handler's or an upstream's `Keep-Alive` into a broken answer. These
// subclasses, given to http2.createServer once, fix both for every request.
import http2 from 'node:http2';

/** Fields that mean something only to one HTTP/1.1 connection; never sent on HTTP/2. */
export const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te']);

const HEADERS = Symbol('portico.h2.headers');
const RAW = Symbol('portico.h2.rawHeaders');
type Cached = { [HEADERS]?: http2.IncomingHttpHeaders; [RAW]?: string[] };

export class Http2Request extends http2.Http2ServerRequest {}

// Accessors on the prototype: Node defines `headers` and `rawHeaders` as getters there.
const proto = http2.Http2ServerRequest.prototype;
const allHeaders = Object.getOwnPropertyDescriptor(proto, 'headers')!.get! as (this: http2.Http2ServerRequest) => http2.IncomingHttpHeaders;
const allRawHeaders = Object.getOwnPropertyDescriptor(proto, 'rawHeaders')!.get! as (this: http2.Http2ServerRequest) => string[];

Object.defineProperties(Http2Request.prototype, {
  /** The headers without pseudo-headers; `host` from `:authority` when the client sent no Host. */
  headers: {
    configurable: true,
    get(this: Http2Request & Cached) {
      if (this[HEADERS] === undefined) {
        const all = allHeaders.call(this);
        const plain: http2.IncomingHttpHeaders = {};
        for (const name in all) if (name.charCodeAt(0) !== 58 /* : */) plain[name] = all[name];
        if (plain.host === undefined && all[':authority'] !== undefined) plain.host = all[':authority'];
        this[HEADERS] = plain;
      }
      return this[HEADERS];
    },
  },
  rawHeaders: {
    configurable: true,
    get(this: Http2Request & Cached) {
      if (this[RAW] === undefined) {
        const all = allRawHeaders.call(this);
        const raw: string[] = [];
        let host = false;
        for (let i = 0; i < all.length; i += 2) {
          const name = all[i]!;
          if (name.charCodeAt(0) === 58) continue;
          if (name === 'host') host = true;
          raw.push(name, all[i + 1]!);
        }
        const authority = allHeaders.call(this)[':authority'];
        if (!host && typeof authority === 'string') raw.unshift('host', authority);
        this[RAW] = raw;
      }
      return this[RAW];
    },
  },
});

type HeaderArg = http2.OutgoingHttpHeaders | readonly string[] | readonly (readonly [string, string])[] | undefined;

export class Http2Response extends http2.Http2ServerResponse<Http2Request> {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) super.setHeader(name, value);
    return this;
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) super.appendHeader(name, value as string | string[]);
    return this;
  }

  /** HTTP/2 has no reason phrase: a handler's statusText is dropped, not warned about per request. */
  override writeHead(statusCode: number, reason?: string | HeaderArg, headers?: HeaderArg): this {
    const fields = typeof reason === 'string' || reason === undefined ? headers : reason;
    return super.writeHead(statusCode, withoutConnectionFields(fields) as http2.OutgoingHttpHeaders);
  }
}

function withoutConnectionFields(headers: HeaderArg): HeaderArg {
  if (headers === undefined) return undefined;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as readonly (readonly [string, string])[]).filter(([name]) => !CONNECTION_SPECIFIC.has(name.toLowerCase()));
    const flat = headers as readonly string[];
    let clean = true;
    for (let i = 0; i < flat.length; i += 2) if (CONNECTION_SPECIFIC.has(flat[i]!.toLowerCase())) clean = false;
    if (clean) return flat;
    const kept: string[] = [];
    for (let i = 0; i < flat.length; i += 2) if (!CONNECTION_SPECIFIC.has(flat[i]!.toLowerCase())) kept.push(flat[i]!, flat[i + 1]!);
    return kept;
  }
  const record = headers as http2.OutgoingHttpHeaders;
  const kept: http2.OutgoingHttpHeaders = {};
  for (const name in record) if (!CONNECTION_SPECIFIC.has(name.toLowerCase())) kept[name] = record[name];
  return kept;
}

// A response is finished once the gateway ended it and the stream was not
// reset; Node's compatibility object says "finished" for a stream the client
// cancelled too, which would hide the disconnect from request.signal.
Object.defineProperties(Http2Response.prototype, {
  writableFinished: {
    configurable: true,
    get(this: Http2Response) {
      const stream = this.stream as http2.ServerHttp2Stream | undefined;
      return this.writableEnded && !(stream?.aborted ?? false) && (stream?.rstCode ?? 0) === 0;
    },
  },
  destroyed: {
    configurable: true,
    get(this: Http2Response) {
      const stream = this.stream as http2.ServerHttp2Stream | undefined;
      return stream === undefined || stream.destroyed;
    },
  },
});
