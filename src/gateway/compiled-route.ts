import type { CompiledCors } from '../cors/compiled-cors.js';
import type { HttpAction } from '../functions/registration.js';
import type { ProxyRoute } from '../proxy/proxy-route.js';
import type { RateLimit } from '../policies/rate-limit.js';
import type { RequestSchema } from '../policies/request-schema.js';
import type { Compression } from '../policies/compression.js';
import type { MiddlewareChain } from '../policies/middleware.js';

// A route as the hot path uses it: everything resolved ahead of time.
export interface CompiledRoute {
  /** The path as declared ("/users/:id"), or "<prefix>*" for a prefix route. */
  pattern: string;
  handlerName: string;
  action: HttpAction;
  cors: CompiledCors | null;
  authRequired: boolean;
  bodyLimit: number;
  responseLimit: number;
  timeoutMs: number;
  /** Set for a proxy route: it forwards instead of running `action`. */
  proxy: ProxyRoute | null;
  /** Traffic policies; null keeps the route on the direct path. */
  rateLimit: RateLimit | null;
  requestSchema: RequestSchema | null;
  compression: Compression | null;
  middleware: MiddlewareChain | null;
}

/** What a generated OPTIONS preflight answers for one path. */
export interface PreflightInfo {
  /** The policy used when the requested method has no CORS route here. */
  cors: CompiledCors;
  corsByMethod: ReadonlyMap<string, CompiledCors>;
  /** Access-Control-Allow-Methods: the CORS-enabled methods declared on the path. */
  allowMethods: string;
  /** Allow, for a plain OPTIONS. */
  allow: string;
}
