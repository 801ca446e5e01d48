// The traffic policies of routes.yaml (rateLimit, request, compression) in
// their resolved form, and how a route's own declaration merges over the
// top-level default: keys given on the route replace the default's, `false`
// turns the policy off for that route.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import ms from 'ms';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { isRecord, type Unknown } from './raw.js';

export type RateLimitKey = { kind: 'ip' } | { kind: 'identity' } | { kind: 'header'; name: string } | { kind: 'param'; name: string };

export interface RateLimitPolicy {
  requests: number;
  /** Whole seconds, in milliseconds. */
  windowMs: number;
  key: RateLimitKey;
  /** null: in memory (shared across --workers); else a redis:// URL. */
  store: string | null;
  onStoreError: 'allow' | 'deny';
  /** How long a request waits for the store. */
  timeoutMs: number;
  /** The policy's name in RateLimit-Policy / RateLimit. */
  name: string;
}

export interface RequestSchemas {
  body: object | null;
  query: object | null;
  params: object | null;
  headers: object | null;
}

export interface CompressionPolicy {
  /** Bytes; smaller known-length answers are sent as they are. */
  threshold: number;
  encodings: ('br' | 'gzip')[];
}

const POLICY_DEFAULTS = {
  rateLimitTimeoutMs: 200,
  compressionThreshold: 1024,
  encodings: ['br', 'gzip'] as ('br' | 'gzip')[],
};

type RawPolicy = false | true | Unknown | undefined;

function parseRateLimitKey(key: string): RateLimitKey {
  if (key === 'identity') return { kind: 'identity' };
  if (key.startsWith('header:')) return { kind: 'header', name: key.slice(7).toLowerCase() };
  if (key.startsWith('param:')) return { kind: 'param', name: key.slice(6) };
  return { kind: 'ip' };
}

/** The route's rate limit: its own keys over the top-level ones; null when off or incomplete. */
export function effectiveRateLimit(top: RawPolicy, own: RawPolicy): RateLimitPolicy | null {
  if (own === false) return null;
  const merged: Unknown = { ...(isRecord(top) ? top : {}), ...(isRecord(own) ? own : {}) };
  if (typeof merged.requests !== 'number' || merged.per === undefined) return null;
  const store = typeof merged.store === 'string' && merged.store !== 'memory' ? merged.store : null;
  return {
    requests: merged.requests,
    windowMs: toMs(merged.per, 60_000),
    key: parseRateLimitKey(typeof merged.key === 'string' ? merged.key : 'ip'),
    store,
    onStoreError: merged.onStoreError === 'deny' ? 'deny' : 'allow',
    timeoutMs: toMs(merged.timeout, POLICY_DEFAULTS.rateLimitTimeoutMs),
    name: typeof merged.name === 'string' ? merged.name : 'default',
  };
}

/** The route's compression: `true` is the defaults, an object is merged over the top-level one. */
export function effectiveCompression(top: RawPolicy, own: RawPolicy): CompressionPolicy | null {
  if (own === false) return null;
  if (own === undefined && (top === undefined || top === false)) return null;
  const merged: Unknown = { ...(isRecord(top) ? top : {}), ...(isRecord(own) ? own : {}) };
  return {
    threshold: merged.threshold === undefined ? POLICY_DEFAULTS.compressionThreshold : toBytes(merged.threshold),
    encodings: Array.isArray(merged.encodings) ? (merged.encodings as ('br' | 'gzip')[]) : [...POLICY_DEFAULTS.encodings],
  };
}

/** The route's request schemas with each `$ref` file read; null without `request`. */
export function resolveRequestSchemas(raw: unknown, dir: string): RequestSchemas | null {
  if (!isRecord(raw)) return null;
  const part = (value: unknown): object | null => (isRecord(value) ? loadSchema(value, dir) : null);
  return { body: part(raw.body), query: part(raw.query), params: part(raw.params), headers: part(raw.headers) };
}

/** A `{$ref: ./file.json}` relative to routes.yaml is that file's schema; anything else is the schema itself. */
function loadSchema(value: Unknown, dir: string): object {
  const ref = value.$ref;
  if (typeof ref === 'string' && Object.keys(value).length === 1 && !ref.startsWith('#')) {
    return JSON.parse(readFileSync(path.resolve(dir, ref), 'utf8')) as object;
  }
  return value;
}

function toMs(value: unknown, fallback: number): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return fallback;
  return Math.round(ms(value as ms.StringValue)) || fallback;
}

function toBytes(value: unknown): number {
  if (typeof value === 'number') return value;
  return bytes.parse(String(value)) ?? POLICY_DEFAULTS.compressionThreshold;
}

/**
 * The ajv that compiles request schemas: every error (each becomes an entry
 * of the 400's errors[]), formats such as email and uuid, and `default`
 * applied. `coerce` is for query and params, which arrive as strings.
 * Lints and the gateway compile with the same options, so a schema that
 * validates at `portico validate` compiles at start-up.
 */
export function requestSchemaAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: coerce ? 'array' : false });
  addFormats.default(ajv);
  return ajv;
}

/**
 * One line for `portico routes`: what a route ends up with, e.g.
 * `rate 100/1m by ip (redis) · request body,query · middleware koa-helmet · compress br,gzip ≥1024B`;
 * `-` when it has none.
 */
export function describePolicies(route: { rateLimit: RateLimitPolicy | null; request?: RequestSchemas | null; compression: CompressionPolicy | null; middleware?: MiddlewareSpec[] | null }): string {
  const parts: string[] = [];
  const limit = route.rateLimit;
  if (limit) {
    const key = limit.key.kind === 'header' || limit.key.kind === 'param' ? `${limit.key.kind}:${limit.key.name}` : limit.key.kind;
    const store = limit.store === null ? '' : ` (redis, on error ${limit.onStoreError})`;
    parts.push(`rate ${limit.requests}/${ms(limit.windowMs)} by ${key}${store}`);
  }
  const request = route.request;
  if (request) {
    const checked = (['body', 'query', 'params', 'headers'] as const).filter((part) => request[part] !== null);
    if (checked.length > 0) parts.push(`request ${checked.join(',')}`);
  }
  if (route.middleware) parts.push(`middleware ${route.middleware.map((spec) => spec.use).join(',')}`);
  if (route.compression) parts.push(`compress ${route.compression.encodings.join(',')} ≥${route.compression.threshold}B`);
  return parts.length === 0 ? '-' : parts.join(' · ');
}

/** One entry of `middleware:`, resolved. */
export interface MiddlewareSpec {
  /** As written: a package name, or ./file.ts[:export]. */
  use: string;
  /** Absolute file for a local module; null for a package. */
  file: string | null;
  /** The export to use: `default` unless ./file.ts:name says otherwise. */
  exportName: string;
  /** Passed to the export when it is a factory. */
  options: unknown;
}

/** A local module (./ or ../) rather than a package, with its optional `:export`. */
export function parseMiddlewareUse(use: string, dir: string): { file: string | null; exportName: string } {
  if (!use.startsWith('./') && !use.startsWith('../') && !path.isAbsolute(use)) return { file: null, exportName: 'default' };
  const colon = use.lastIndexOf(':');
  const named = colon > 1 && /^[A-Za-z_$][\w$]*$/.test(use.slice(colon + 1));
  return { file: path.resolve(dir, named ? use.slice(0, colon) : use), exportName: named ? use.slice(colon + 1) : 'default' };
}

/**
 * The route's middleware: the top-level list, then the route's own after it;
 * `false` on the route turns the top-level list off. null when there is none.
 */
export function effectiveMiddleware(top: unknown, own: unknown, dir: string): MiddlewareSpec[] | null {
  const entries = (list: unknown): MiddlewareSpec[] =>
    Array.isArray(list)
      ? list.map((entry) => {
          const use = typeof entry === 'string' ? entry : String((entry as Unknown).use);
          return { use, ...parseMiddlewareUse(use, dir), options: typeof entry === 'string' ? undefined : (entry as Unknown).options };
        })
      : [];
  const all = own === false ? [] : [...entries(top), ...entries(own)];
  return all.length === 0 ? null : all;
}
