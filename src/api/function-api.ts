import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CallKind, CallResult, FunctionBackend } from '../backends/function-backend.js';
import type { Authenticator } from '../auth/authenticator.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { FunctionNameError, parseFunctionName } from '../functions/names.js';
import { jsonToConvex, toCleanJson, type JSONValue } from '../values/value.js';
import { answerHeaders, type Exchange, type Mount } from '../gateway/gateway.js';
import { writeEmpty, writeGatewayError, writeJson } from '../gateway/gateway-responses.js';
import { apiCaller } from './api-caller.js';
import type { RateLimit } from '../policies/rate-limit.js';
import { readJsonBody } from './json-body.js';

// The Convex-compatible function API that ConvexHttpClient speaks:
//   POST {prefix}/query | /mutation | /action   {path, args, format}
//   GET  {prefix}/query?path=&args=&format=
//   POST {prefix}/run/<module path>/<function>  {args, format}
//   POST {prefix}/function                      {path, args, format} (admin)
//   POST {prefix}/query_batch                   {queries: [...]}
//   POST {prefix}/query_ts, {prefix}/query_at_ts
// A function's failure is a 200 with {"status":"error"} (as the open-source
// backend answers); the gateway's own refusals are {code, message} with
// their HTTP status. Every answer carries permissive CORS, as Convex's /api.

export interface SubMount {
  /** Handles `rest` (the path after the prefix) or returns null to decline. */
  handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rest: string): Promise<number> | null;
}

type Format = 'json' | 'convex_encoded_json';

const KINDS: Record<string, CallKind> = { query: 'query', mutation: 'mutation', action: 'action' };
const CORS_METHODS = 'GET, POST, OPTIONS, PATCH, DELETE, PUT';

export class FunctionApi implements Mount {
  /**
   * @param logLines whether answers carry the functions' console output
   *   (`logLines`). Convex returns them only while logs are not redacted, so
   *   by default not in production; api.logLines in routes.yaml decides.
   */
  constructor(
    private readonly prefix: string,
    private readonly backend: FunctionBackend,
    private readonly authenticator: Authenticator,
    private readonly adminKey: string | null,
    private readonly extra: SubMount[] = [],
    private readonly logLines: boolean = process.env.NODE_ENV !== 'production',
  ) {}

  /** The top-level rateLimit, one budget for the whole API (set before the first request). */
  rateLimit: RateLimit | null = null;

  async handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number> {
    const url = req.url!;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const rest = path.slice(this.prefix.length);
    exchange.route = path;
    exchange.handler = '(function api)';
    addPermissiveCors(req, exchange);
    if (req.method === 'OPTIONS') return this.preflight(req, res, exchange);
    try {
      if (this.rateLimit !== null) {
        const refusal = await this.rateLimit.admit(req, {}, exchange.headers);
        if (refusal !== null) throw refusal;
      }
      for (const mount of this.extra) {
        const handled = mount.handle(req, res, exchange, rest);
        if (handled !== null) return await handled;
      }
      return await this.route(req, res, exchange, rest, query === -1 ? '' : url.slice(query + 1));
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      writeGatewayError(res, error, answerHeaders(exchange));
      return error.status;
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, exchange: Exchange, rest: string, search: string): Promise<number> {
    const kind = KINDS[rest.slice(1)];
    if (kind && req.method === 'POST') {
      const body = asObject(await readJsonBody(req, res));
      return this.run(req, res, exchange, kind, body.path, body.args, body.format);
    }
    if (rest === '/query' && req.method === 'GET') {
      const params = new URLSearchParams(search);
      const args = params.get('args');
      let parsed: unknown = {};
      if (args !== null) {
        try {
          parsed = JSON.parse(args);
        } catch {
          throw new GatewayError('BadJsonBody', 'The args query parameter is not valid JSON');
        }
      }
      return this.run(req, res, exchange, 'query', params.get('path'), parsed, params.get('format') ?? undefined);
    }
    if (rest.startsWith('/run/') && req.method === 'POST') {
      const segments = rest.slice('/run/'.length).split('/').filter(Boolean).map(decodeSegment);
      if (segments.length < 2) throw new GatewayError('MissingIdentifier');
      const name = `${segments.slice(0, -1).join('/')}:${segments[segments.length - 1]}`;
      const body = asObject(await readJsonBody(req, res));
      return this.run(req, res, exchange, 'function', name, body.args, body.format ?? 'json');
    }
    if (rest === '/function' && req.method === 'POST') {
      const body = asObject(await readJsonBody(req, res));
      const caller = await apiCaller(req, this.authenticator, this.adminKey, exchange.requestId, this.logLines);
      if (!caller.internal) throw new GatewayError('Forbidden', 'This endpoint requires the admin key (Authorization: Convex <key>)');
      return this.run(req, res, exchange, 'function', body.path, body.args, body.format);
    }
    if (rest === '/query_batch' && req.method === 'POST') {
      const body = asObject(await readJsonBody(req, res));
      if (!Array.isArray(body.queries)) throw new GatewayError('BadJsonBody', 'Expected {"queries": [...]}');
      const caller = await apiCaller(req, this.authenticator, this.adminKey, exchange.requestId, this.logLines);
      const results = [];
      for (const item of body.queries) {
        const entry = asObject(item);
        const format = parseFormat(entry.format, req);
        const name = checkName(entry.path);
        const result = await this.backend.call({ kind: 'query', name, args: normalizeArgs(entry.args), caller });
        results.push(present(result, format, this.logLines));
      }
      writeJson(res, 200, { results }, answerHeaders(exchange));
      return 200;
    }
    if (rest === '/query_ts' && req.method === 'POST') {
      // Queries always read the latest snapshot; the timestamp is the time
      // of asking, which query_at_ts accepts (and reads at the latest).
      const ts = Buffer.alloc(8);
      ts.writeBigUInt64LE(BigInt(Date.now()) * 1_000_000n);
      writeJson(res, 200, { ts: ts.toString('base64') }, answerHeaders(exchange));
      return 200;
    }
    if (rest === '/query_at_ts' && req.method === 'POST') {
      const body = asObject(await readJsonBody(req, res));
      return this.run(req, res, exchange, 'query', body.path, body.args, body.format);
    }
    throw new GatewayError('NotFound', `No function API endpoint ${req.method} ${this.prefix}${rest}`);
  }

  private async run(req: IncomingMessage, res: ServerResponse, exchange: Exchange, kind: CallKind, path: unknown, args: unknown, rawFormat: unknown): Promise<number> {
    const format = parseFormat(rawFormat, req);
    const name = checkName(path);
    const caller = await apiCaller(req, this.authenticator, this.adminKey, exchange.requestId, this.logLines);
    exchange.handler = name;
    const result = await this.backend.call({ kind, name, args: normalizeArgs(args), caller });
    writeJson(res, 200, present(result, format, this.logLines), answerHeaders(exchange));
    return 200;
  }

  private preflight(req: IncomingMessage, res: ServerResponse, exchange: Exchange): number {
    const headers = [...answerHeaders(exchange), 'access-control-allow-methods', CORS_METHODS, 'access-control-max-age', '86400'];
    const requested = req.headers['access-control-request-headers'];
    if (requested && HEADER_NAMES.test(requested)) headers.push('access-control-allow-headers', requested);
    writeEmpty(res, 204, headers);
    return 204;
  }
}

/**
 * Convex's /api mirrors the caller's origin and allows credentials. Only an
 * origin as browsers send it (`scheme://host[:port]` in ASCII, or `null`) is
 * mirrored: anything else is no origin a browser could hold, and echoing it
 * would copy a client's bytes into the answer's head.
 */
function addPermissiveCors(req: IncomingMessage, exchange: Exchange): void {
  exchange.vary = true;
  const origin = req.headers.origin;
  if (origin !== undefined && SERIALIZED_ORIGIN.test(origin)) exchange.headers.push('access-control-allow-origin', origin, 'access-control-allow-credentials', 'true');
}

const SERIALIZED_ORIGIN = /^(?:null|[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::\d{1,5})?)$/;
// A list of header names, as a preflight's Access-Control-Request-Headers holds.
const HEADER_NAMES = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

function asObject(value: unknown): Record<string, any> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GatewayError('BadJsonBody', 'Expected a JSON object');
  return value as Record<string, any>;
}

function checkName(path: unknown): string {
  if (typeof path !== 'string') throw new GatewayError('BadJsonBody', 'Expected "path": the function name, e.g. "messages:list"');
  try {
    return parseFunctionName(path).canonical;
  } catch (error) {
    if (error instanceof FunctionNameError) {
      throw new GatewayError('BadConvexFunctionIdentifier', error.message.replace('is not a valid path to a function', 'is not a valid path to a Convex function'));
    }
    throw error;
  }
}

/** `args` is an object, or (as ConvexHttpClient sends it) an array holding one. */
function normalizeArgs(args: unknown): JSONValue {
  if (args === undefined || args === null) return {};
  if (Array.isArray(args)) {
    if (args.length === 0) return {};
    if (args.length === 1) return args[0] as JSONValue;
    throw new GatewayError('BadJsonBody', 'Positional arguments are not supported: send one argument object');
  }
  return args as JSONValue;
}

function parseFormat(format: unknown, req: IncomingMessage): Format {
  if (format === undefined || format === null) return defaultFormat(req.headers['convex-client']);
  if (format === 'json' || format === 'convex_clean_json') return 'json';
  if (format === 'convex_encoded_json' || format === 'convex_json') return 'convex_encoded_json';
  throw new GatewayError('BadFormat', `format param must be one of [\`json\`, \`convex_encoded_json\`]. Got ${String(format)}`);
}

/** Clients older than npm 1.4.1 expect encoded values by default, as in Convex. */
function defaultFormat(client: string | string[] | undefined): Format {
  const version = typeof client === 'string' ? /^npm-(\d+)\.(\d+)\.(\d+)/.exec(client) : null;
  if (!version) return 'json';
  const [major, minor, patch] = version.slice(1).map(Number) as [number, number, number];
  const newer = major > 1 || (major === 1 && (minor > 4 || (minor === 4 && patch > 1)));
  return newer ? 'json' : 'convex_encoded_json';
}

function present(result: CallResult, format: Format, logLines: boolean): Record<string, JSONValue> {
  const convert = (value: JSONValue) => (format === 'json' ? toCleanJson(jsonToConvex(value)) : value);
  const body: Record<string, JSONValue> =
    result.status === 'success'
      ? { status: 'success', value: convert(result.value) }
      : { status: 'error', errorMessage: result.errorMessage, ...(result.errorData !== undefined ? { errorData: convert(result.errorData) } : {}) };
  // A remote backend's lines arrive whatever this deployment's choice: it decides here too.
  if (logLines && result.logLines.length > 0) body.logLines = result.logLines;
  return body;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError('BadConvexFunctionIdentifier', `Invalid percent-encoding in ${segment}`);
  }
}
