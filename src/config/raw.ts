// routes.yaml as written (after ${...} expansion), in the shape the schema
// allows. Resolution reads it only once validation passed; the linters read it
// before that too, so they go through the guards below and never trust it.

import type { RawTls } from './tls-config.js';

export type RawSize = number | string;
export type RawDuration = number | string;

export interface RawCors {
  origins?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  credentials?: boolean;
  maxAge?: number;
}

export interface RawRoute {
  path?: string;
  pathPrefix?: string;
  method: string | string[];
  handler?: string;
  cors?: false | RawCors;
  auth?: 'required' | 'optional';
  bodyLimit?: RawSize;
  responseLimit?: RawSize;
  timeout?: RawDuration;
  description?: string;
  summary?: string;
  tags?: string[];
  proxy?: RawProxy;
  rateLimit?: false | Unknown;
  request?: Unknown;
  compression?: boolean | Unknown;
  middleware?: false | unknown[];
}

export interface RawProxy {
  upstream: string | string[];
  stripPrefix?: boolean;
  rewrite?: string;
  headers?: { add?: Record<string, string>; remove?: string[] };
  preserveHost?: boolean;
  timeout?: RawDuration;
  retries?: number;
  ejectAfter?: number;
  cooldown?: RawDuration;
  websocket?: boolean;
}

export interface RawAuthProvider {
  issuer: string;
  audience?: string | string[];
  jwks: string;
  algorithms?: string[];
}

export interface RawConfig {
  version: 1;
  functions?: string;
  router?: string;
  server?: {
    host?: string;
    port?: number;
    publicUrl?: string;
    shutdownTimeout?: RawDuration;
    headersTimeout?: RawDuration;
    requestTimeout?: RawDuration;
    keepAliveTimeout?: RawDuration;
    maxConnections?: number;
    maxConnectionsPerClient?: number;
    trustProxy?: boolean | number | string | string[];
    tls?: RawTls;
    http2?: boolean;
  };
  limits?: { body?: RawSize; response?: RawSize; timeout?: RawDuration };
  backend?: { kind?: 'local' | 'remote'; database?: string; pool?: number; queryCache?: boolean | { maxEntries?: number }; url?: string; adminKey?: string };
  storage?: { kind?: 'fs' | 'database'; dir?: string; inlineTypes?: string[] };
  auth?: { providers?: RawAuthProvider[] };
  api?: false | { prefix?: string; adminKey?: string; logLines?: boolean };
  metrics?: boolean | { access?: 'open' | 'adminKey'; listen?: string };
  dashboard?: boolean;
  cors?: false | RawCors;
  logging?: { level?: string; format?: 'auto' | 'json' | 'pretty' };
  rateLimit?: false | Unknown;
  compression?: boolean | Unknown;
  middleware?: unknown[];
  routes: RawRoute[];
}

export type Unknown = Record<string, unknown>;

export function isRecord(value: unknown): value is Unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function record(value: unknown): Unknown {
  return isRecord(value) ? value : {};
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined;
}

export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}
