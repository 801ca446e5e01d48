// A validated routes.yaml → PorticoConfig: defaults applied, sizes in bytes,
// durations in milliseconds, paths absolute, CORS merged per route. Runs only
// on documents that passed every error-level check.
import path from 'node:path';
import bytes from 'bytes';
import ms from 'ms';
import { effectiveCors } from './cors-policy.js';
import { portFromEnv, type Env } from './env.js';
import { canonicalJson, deepFreeze, sha256 } from './freeze.js';
import { isPostgresUrl, type RawConfig, type RawDuration, type RawRoute, type RawSize } from './raw.js';
import { resolveProxy } from './resolve-proxy.js';
import { resolveHttp2, resolveTls } from './tls-config.js';
import { effectiveCompression, effectiveMiddleware, effectiveRateLimit, resolveRequestSchemas } from './policies.js';
import { DEFAULTS, type BackendConfig, type HttpMethod, type PorticoConfig, type RouteConfig } from './types.js';

/** Binary units, as in the design: 1mb = 1 MiB. */
function toBytes(value: RawSize | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  return bytes.parse(value) ?? fallback;
}

function toMs(value: RawDuration | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  return Math.round(ms(value as ms.StringValue)) || fallback;
}

function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

function resolveBackend(raw: RawConfig, dir: string): BackendConfig {
  const backend = raw.backend ?? {};
  if (backend.kind === 'remote') {
    // Validation guarantees both for kind: remote.
    return { kind: 'remote', url: backend.url!.replace(/\/+$/, ''), adminKey: backend.adminKey! };
  }
  const database = backend.database ?? DEFAULTS.database;
  const cache = backend.queryCache ?? true;
  const queryCache = cache === false ? null : { maxEntries: (cache === true ? undefined : cache.maxEntries) ?? DEFAULTS.queryCacheEntries };
  if (isPostgresUrl(database)) {
    return { kind: 'local', database: { kind: 'postgres', url: database, pool: backend.pool ?? DEFAULTS.postgresPool }, queryCache };
  }
  // `:memory:` is SQLite's in-memory database, not a file name.
  const file = database === ':memory:' ? database : path.resolve(dir, database);
  return { kind: 'local', database: { kind: 'sqlite', file }, queryCache };
}

function resolveRoute(
  route: RawRoute,
  index: number,
  raw: RawConfig,
  limits: PorticoConfig['limits'],
  dir: string,
): RouteConfig {
  return {
    index,
    path: (route.path ?? route.pathPrefix)!,
    kind: route.path !== undefined ? 'exact' : 'prefix',
    methods: (Array.isArray(route.method) ? [...route.method] : [route.method]) as HttpMethod[],
    handler: route.proxy ? `proxy:${[route.proxy.upstream].flat().join(',')}` : route.handler!,
    proxy: route.proxy ? resolveProxy(route.proxy, route.bodyLimit === undefined ? null : toBytes(route.bodyLimit, limits.body), toMs(route.timeout, limits.timeoutMs)) : null,
    summary: route.summary ?? null,
    description: route.description ?? null,
    tags: [...(route.tags ?? [])],
    cors: effectiveCors(raw.cors, route.cors),
    auth: route.auth ?? 'optional',
    bodyLimit: toBytes(route.bodyLimit, limits.body),
    responseLimit: toBytes(route.responseLimit, limits.response),
    timeoutMs: toMs(route.timeout, limits.timeoutMs),
    rateLimit: effectiveRateLimit(raw.rateLimit, route.rateLimit),
    request: resolveRequestSchemas(route.request, dir),
    compression: effectiveCompression(raw.compression, route.compression),
    middleware: effectiveMiddleware(raw.middleware, route.middleware, dir),
  };
}

export interface ResolveContext {
  /** Absolute path of routes.yaml. */
  file: string;
  /** The environment routes.yaml was expanded with (.env included). */
  env: Env;
}

export function resolveConfig(raw: RawConfig, { file, env }: ResolveContext): PorticoConfig {
  const dir = path.dirname(file);
  const server = raw.server ?? {};
  const limits = {
    body: toBytes(raw.limits?.body, DEFAULTS.bodyLimit),
    response: toBytes(raw.limits?.response, DEFAULTS.responseLimit),
    timeoutMs: toMs(raw.limits?.timeout, DEFAULTS.timeoutMs),
  };
  const api = raw.api === false ? null : { prefix: raw.api?.prefix ?? DEFAULTS.apiPrefix, adminKey: raw.api?.adminKey ?? null, logLines: raw.api?.logLines ?? null };

  const config: Omit<PorticoConfig, 'hash'> = {
    file,
    functionsDir: path.resolve(dir, raw.functions ?? DEFAULTS.functions),
    router: raw.router === undefined ? null : path.resolve(dir, raw.router),
    server: {
      host: server.host ?? DEFAULTS.host,
      port: server.port ?? portFromEnv(env) ?? DEFAULTS.port,
      // Storage URLs are publicUrl + /api/...: no trailing slash to double up.
      publicUrl: server.publicUrl?.replace(/\/+$/, '') ?? null,
      shutdownTimeoutMs: toMs(server.shutdownTimeout, DEFAULTS.shutdownTimeoutMs),
      headersTimeoutMs: toMs(server.headersTimeout, DEFAULTS.headersTimeoutMs),
      requestTimeoutMs: toMs(server.requestTimeout, DEFAULTS.requestTimeoutMs),
      keepAliveTimeoutMs: toMs(server.keepAliveTimeout, DEFAULTS.keepAliveTimeoutMs),
      maxConnections: server.maxConnections ?? DEFAULTS.maxConnections,
      maxConnectionsPerClient: server.maxConnectionsPerClient ?? null,
      trustProxy: typeof server.trustProxy === 'string' ? [server.trustProxy] : Array.isArray(server.trustProxy) ? [...server.trustProxy] : (server.trustProxy ?? false),
      tls: resolveTls(server.tls, dir),
      http2: resolveHttp2(server.http2, server.tls !== undefined),
    },
    limits,
    backend: resolveBackend(raw, dir),
    storage: {
      kind: raw.storage?.kind ?? 'fs',
      dir: path.resolve(dir, raw.storage?.dir ?? DEFAULTS.storageDir),
      inlineTypes: (raw.storage?.inlineTypes ?? []).map((type) => type.toLowerCase()),
    },
    auth: {
      providers: (raw.auth?.providers ?? []).map((p) => ({
        issuer: p.issuer,
        audience: p.audience === undefined ? null : Array.isArray(p.audience) ? [...p.audience] : [p.audience],
        jwks: isUrl(p.jwks) ? p.jwks : path.resolve(dir, p.jwks),
        algorithms: [...(p.algorithms ?? DEFAULTS.algorithms)],
      })),
    },
    cors: effectiveCors(raw.cors, undefined),
    api,
    logging: { level: raw.logging?.level ?? 'info', format: raw.logging?.format ?? 'auto' },
    metrics: resolveMetrics(raw.metrics),
    dashboard: raw.dashboard ?? true,
    rateLimit: effectiveRateLimit(raw.rateLimit, undefined),
    compression: effectiveCompression(raw.compression, undefined),
    middleware: effectiveMiddleware(raw.middleware, undefined, dir),
    routes: raw.routes.map((route, index) => resolveRoute(route, index, raw, limits, dir)),
  };
  const hash = sha256(canonicalJson(portable(config, dir)));
  return deepFreeze({ ...config, hash });
}

/**
 * What the hash covers: what is served, not where. The listening port and
 * host are left out and paths inside the project are made relative, so the
 * same routes.yaml hashes the same on any port, host or machine.
 */
function portable(config: Omit<PorticoConfig, 'hash'>, dir: string): unknown {
  const { port: _port, host: _host, ...server } = config.server;
  return JSON.parse(
    JSON.stringify({ ...config, server }, (_key, value) =>
      typeof value === 'string' && (value === dir || value.startsWith(dir + path.sep)) ? path.relative(dir, value) || '.' : value,
    ),
  );
}

/** `metrics: true` or absent: on, for the admin key; `listen: host:port` serves them there instead. */
function resolveMetrics(raw: RawConfig['metrics']): PorticoConfig['metrics'] {
  if (raw === false) return null;
  const settings = raw === true || raw === undefined ? {} : raw;
  const listen = settings.listen === undefined ? null : parseListen(settings.listen);
  return { access: settings.access ?? 'adminKey', listen };
}

function parseListen(value: string): { host: string; port: number } {
  const colon = value.lastIndexOf(':');
  return { host: value.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: Number(value.slice(colon + 1)) };
}
