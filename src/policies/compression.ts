import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import Negotiator from 'negotiator';
import type { CompressionPolicy } from '../config/policies.js';
import { lightState } from '../http/light-response.js';

// `compression:` on one route: the handler's Response re-encoded with br or
// gzip, as the client's Accept-Encoding (with its q-values) and the
// policy's order of preference choose. Left as it is: HEAD, 204/304, range
// answers (206, Content-Range), answers already encoded or marked
// no-transform, types that are compressed already (images, audio, video,
// archives: only text-like types are compressed), and bodies known to be
// under the threshold. A streamed body is compressed as it streams, each
// chunk flushed on its own, so a client sees it as soon as the handler
// sends it. Every answer of a compressible type gets Vary: Accept-Encoding.

const COMPRESSIBLE = /^(?:text\/|application\/(?:json|javascript|x-javascript|ecmascript|xml|x-ndjson|ndjson|wasm|x-www-form-urlencoded|graphql-response\+json|[\w.-]+\+(?:json|xml))|image\/svg\+xml|font\/(?:ttf|otf)|[\w.-]+\/[\w.-]+\+(?:json|xml))/i;
const NO_BODY = new Set([204, 206, 304]);
const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);
// Brotli's default quality (11) is for files compressed once; answers made
// per request use 4, about gzip's speed and a smaller result.
const BROTLI = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };

export class Compression {
  constructor(private readonly policy: CompressionPolicy) {}

  /** The answer to send: `response` itself when it stays as it is, else an encoded copy (a promise for a body in memory). */
  encode(req: IncomingMessage, response: Response): Response | Promise<Response> {
    if (NO_BODY.has(response.status)) return response;
    const headers = response.headers;
    const type = headers.get('content-type') ?? defaultType(response);
    if (type === null || !COMPRESSIBLE.test(type) || headers.has('content-encoding') || headers.has('content-range') || /\bno-transform\b/i.test(headers.get('cache-control') ?? '')) return response;
    const vary = mergeVary(headers.get('vary'));
    const encoding = this.negotiate(req);
    const known = knownBody(response);
    if (req.method === 'HEAD' || encoding === null || (known !== null && known.length < this.policy.threshold)) return withHeaders(response, null, vary, type);
    if (known !== null) {
      const squeeze = encoding === 'br' ? brotli(known, BROTLI) : gzip(known);
      return squeeze.then((bytes) => withHeaders(response, bytes, vary, type, encoding));
    }
    const source = response.body;
    if (source === null) return withHeaders(response, null, vary, type);
    const coder =
      encoding === 'br'
        ? zlib.createBrotliCompress({ ...BROTLI, flush: zlib.constants.BROTLI_OPERATION_FLUSH })
        : zlib.createGzip({ flush: zlib.constants.Z_SYNC_FLUSH });
    const input = Readable.fromWeb(source as import('node:stream/web').ReadableStream<Uint8Array>);
    input.on('error', (error) => coder.destroy(error));
    input.pipe(coder);
    return withHeaders(response, Readable.toWeb(coder) as unknown as ReadableStream<Uint8Array>, vary, type, encoding);
  }

  private negotiate(req: IncomingMessage): 'br' | 'gzip' | null {
    const accept = req.headers['accept-encoding'];
    if (accept === undefined || accept === '') return null;
    // negotiator 1.x breaks ties between equal q-values by `preferred`, the policy's order (its types predate the option).
    const negotiator = new Negotiator({ headers: { 'accept-encoding': accept } }) as unknown as { encoding(available: string[], options: { preferred: string[] }): string | undefined };
    const chosen = negotiator.encoding([...this.policy.encodings, 'identity'], { preferred: this.policy.encodings });
    return chosen === 'br' || chosen === 'gzip' ? chosen : null;
  }
}

/** The body when it is already in memory (a string or bytes): its length decides. */
function knownBody(response: Response): Buffer | null {
  const state = lightState(response);
  if (state === undefined || state.native !== undefined) return null;
  const body = state.body;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  return null;
}

function defaultType(response: Response): string | null {
  const state = lightState(response);
  return typeof state?.body === 'string' ? 'text/plain;charset=UTF-8' : null;
}

function mergeVary(existing: string | null): string {
  if (existing === null || existing === '') return 'Accept-Encoding';
  if (existing.split(',').some((token) => ['accept-encoding', '*'].includes(token.trim().toLowerCase()))) return existing;
  return `${existing}, Accept-Encoding`;
}

/** A copy of `response` with a new body (or its own when `body` is null) and the encoding's headers. */
function withHeaders(response: Response, body: Buffer | ReadableStream<Uint8Array> | null, vary: string, type: string, encoding?: 'br' | 'gzip'): Response {
  const headers = new Headers(response.headers);
  headers.set('vary', vary);
  headers.set('content-type', type);
  if (encoding !== undefined) {
    headers.set('content-encoding', encoding);
    headers.delete('content-length');
    // A strong validator names one encoding's bytes: the encoded copy gets a weak one.
    const etag = headers.get('etag');
    if (etag !== null && !etag.startsWith('W/')) headers.set('etag', `W/${etag}`);
  }
  const state = lightState(response);
  const own = state !== undefined && state.native === undefined ? (state.body as BodyInit | null) : response.body;
  return new Response((body as BodyInit | null) ?? own, { status: response.status, statusText: response.statusText, headers });
}
