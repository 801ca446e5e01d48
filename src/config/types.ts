// The resolved form of routes.yaml: environment expanded, defaults applied,
// sizes in bytes and durations in milliseconds, paths absolute. Everything
// downstream of src/config reads this shape, never the raw YAML.

import type { CompressionPolicy, MiddlewareSpec, RateLimitPolicy, RequestSchemas } from './policies.js';
import type { TlsConfig } from './tls-config.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface CorsPolicy {
  origins: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  credentials: boolean;
  maxAge: number;
}

export interface RouteConfig {
  /** Position in `routes`, for messages that name the route. */
  index: number;
  /** Exact path (may hold `:param` segments) or a prefix ending in `/`. */
  path: string;
  kind: 'exact' | 'prefix';
  methods: HttpMethod[];
  /** `module:export` or `module` (its default export); for a proxy route, `proxy:` and its upstreams. */
  handler: string;
  /** Set when the route forwards to upstreams instead of running a handler. */
  proxy: ProxyConfig | null;
  /** For the OpenAPI document. */
  summary: string | null;
  description: string | null;
  tags: string[];
  /** The merged policy, or null when CORS is off for this route. */
  cors: CorsPolicy | null;
  auth: 'required' | 'optional';
  bodyLimit: number;
  responseLimit: number;
  timeoutMs: number;
  /** Traffic policies (src/config/policies.ts); null when off. */
  rateLimit: RateLimitPolicy | null;
  request: RequestSchemas | null;
  compression: CompressionPolicy | null;
  middleware: MiddlewareSpec[] | null;
}

export interface ProxyConfig {
  /** Base URLs without a trailing slash, taken in turn. */
  upstreams: string[];
  stripPrefix: boolean;
  rewrite: string | null;
  /** Lower-case names. */
  addHeaders: [string, string][];
  removeHeaders: string[];
  preserveHost: boolean;
  timeoutMs: number;
  retries: number;
  ejectAfter: number;
  cooldownMs: number;
  /** The route's own bodyLimit, when it declares one; null streams any size. */
  bodyLimit: number | null;
  /** WebSocket upgrades pass through to the upstream. */
  websocket: boolean;
}

export interface AuthProviderConfig {
  issuer: string;
  audience: string[] | null;
  /** An http(s) URL, or an absolute file path. */
  jwks: string;
  algorithms: string[];
}

export type BackendConfig =
  | {
      kind: 'local';
      database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; pool: number };
      /** Most query results kept by the query cache; null when it is off. */
      queryCache: { maxEntries: number } | null;
    }
  | { kind: 'remote'; url: string; adminKey: string };

export interface StorageConfig {
  kind: 'fs' | 'database';
  /** Absolute folder for `fs` storage. */
  dir: string;
  /** Media types (lower case, `type/subtype` or `type/*`) served inline beyond the passive defaults. */
  inlineTypes: string[];
}

export interface PorticoConfig {
  /** Absolute path of the routes.yaml this came from. */
  file: string;
  /** sha256 of the expanded config, shown by /_portico/health. */
  hash: string;
  /** Absolute folder of function modules. */
  functionsDir: string;
  /** Absolute path of the router module (`router:`), or null. */
  router: string | null;
  server: {
    host: string;
    port: number;
    publicUrl: string | null;
    shutdownTimeoutMs: number;
    /** Slow clients: how long headers, and a whole request, may take to arrive. */
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    /** null: no limit per client address. */
    maxConnectionsPerClient: number | null;
    /** false, true (every hop), a hop count, or the addresses/CIDRs of trusted proxies. */
    trustProxy: boolean | number | string[];
    /** https on server.port; null: plain HTTP. */
    tls: TlsConfig | null;
    /** HTTP/2 offered by ALPN beside HTTP/1.1; only with tls. */
    http2: boolean;
  };
  limits: { body: number; response: number; timeoutMs: number };
  backend: BackendConfig;
  storage: StorageConfig;
  auth: { providers: AuthProviderConfig[] };
  /** The top-level CORS policy with defaults applied; null when absent or false. */
  cors: CorsPolicy | null;
  /** null when the function API is turned off. */
  /**
   * null when the function API is turned off. `logLines`: whether callers get
   * the functions' console output; null leaves it to NODE_ENV (not in production).
   */
  api: { prefix: string; adminKey: string | null; logLines: boolean | null } | null;
  logging: { level: string; format: 'auto' | 'json' | 'pretty' };
  /**
   * Prometheus metrics at /_portico/metrics; null when turned off. `access`:
   * who may scrape the gateway's port (`adminKey`: a bearer of api.adminKey);
   * `listen`: a separate address that serves only the metrics, to anyone who
   * reaches it (then the gateway's port does not serve them).
   */
  metrics: { access: 'open' | 'adminKey'; listen: { host: string; port: number } | null } | null;
  /** The dashboard at /_portico/dashboard, and the log history it keeps; false turns both off. */
  dashboard: boolean;
  /** The top-level traffic policies, which the function API follows. */
  rateLimit: RateLimitPolicy | null;
  compression: CompressionPolicy | null;
  /** The top-level middleware, which routes from code take. */
  middleware: MiddlewareSpec[] | null;
  routes: RouteConfig[];
}

export const DEFAULTS = {
  functions: './functions',
  host: '127.0.0.1',
  port: 3000,
  bodyLimit: 20 * 1024 * 1024,
  responseLimit: 20 * 1024 * 1024,
  timeoutMs: 120_000,
  shutdownTimeoutMs: 30_000,
  // Node's own defaults are 60 s and 5 min; 20 s for headers is what a
  // browser on a bad network still meets, and a body has the request's time.
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
  database: './.data/portico.sqlite',
  postgresPool: 10,
  queryCacheEntries: 10_000,
  storageDir: './.data/storage',
  apiPrefix: '/api',
  corsMaxAge: 86_400,
  algorithms: ['RS256', 'ES256', 'EdDSA'],
} as const;
