import type { CorsPolicy, PorticoConfig } from '../config/types.js';
import { CompiledCors } from '../cors/compiled-cors.js';
import { RouteTable, type PathGroup } from '../routing/route-table.js';
import type { LoadedModules } from '../functions/loader.js';
import { Gateway, type GatewayServices, type Mount } from './gateway.js';
import type { CompiledRoute, PreflightInfo } from './compiled-route.js';
import { ProxyRoute } from '../proxy/proxy-route.js';
import { PROXY_ACTION } from './run-proxy.js';
import { RateLimit } from '../policies/rate-limit.js';
import { RequestSchema } from '../policies/request-schema.js';
import { Compression } from '../policies/compression.js';
import type { MiddlewareChain } from '../policies/middleware.js';
import type { MiddlewareSpec } from '../config/policies.js';
import { rateLimitKeys } from './policy-steps.js';

// routes.yaml + loaded modules → an immutable Gateway. All per-route work
// happens here, once: handlers resolved, CORS policies compiled (one per
// distinct policy) and their headers joined, the route table built.

export class CompileError extends Error {
  override name = 'CompileError';
}

export function compileGateway(
  config: PorticoConfig,
  modules: LoadedModules,
  services: GatewayServices,
  mounts: readonly { prefix: string; mount: Mount }[],
): Gateway {
  const corsCache = new Map<string, CompiledCors>();
  const compileCors = (policy: CorsPolicy | null): CompiledCors | null => {
    if (policy === null) return null;
    const key = JSON.stringify(policy);
    let compiled = corsCache.get(key);
    if (!compiled) corsCache.set(key, (compiled = new CompiledCors(policy)));
    return compiled;
  };

  const keySources = rateLimitKeys(config, services);
  const routes = config.routes.map((route) => {
    const action = route.proxy ? PROXY_ACTION : modules.httpActions.get(route.handler);
    if (!action) {
      // The config check reports this with its line; reaching here is a bug.
      throw new CompileError(`${route.methods.join(',')} ${route.path}: handler "${route.handler}" is not an HTTP action`);
    }
    const compiled: CompiledRoute = {
      pattern: route.kind === 'prefix' ? `${route.path}*` : route.path,
      handlerName: route.handler,
      action,
      cors: compileCors(route.cors),
      authRequired: route.auth === 'required',
      bodyLimit: route.bodyLimit,
      responseLimit: route.responseLimit,
      timeoutMs: route.timeoutMs,
      rateLimit: route.rateLimit ? new RateLimit(route.rateLimit, `${route.methods.join(',')} ${route.kind === 'prefix' ? `${route.path}*` : route.path}`, keySources, services.logger) : null,
      requestSchema: route.request ? new RequestSchema(route.request) : null,
      compression: route.compression && !route.proxy ? new Compression(route.compression) : null,
      middleware: route.middleware ? middlewareOf(services, route.middleware) : null,
      proxy: route.proxy ? new ProxyRoute({ config: route.proxy, routePath: route.path, isPrefix: route.kind === 'prefix', ownCors: route.cors !== null, logger: services.logger }) : null,
    };
    return { path: route.path, kind: route.kind, methods: route.methods, value: compiled };
  });

  const table = new RouteTable<CompiledRoute>(routes, (group) => [...group.byMethod.values()].some((route) => route.cors !== null));
  const preflights = new Map<PathGroup<CompiledRoute>, PreflightInfo>();
  for (const group of table.groups) {
    const corsByMethod = new Map<string, CompiledCors>();
    for (const [method, route] of group.byMethod) if (route.cors) corsByMethod.set(method, route.cors);
    const first = corsByMethod.values().next().value;
    if (!first) continue;
    const declared = [...group.byMethod.keys()];
    const allow = [...declared, ...(declared.includes('GET') ? ['HEAD'] : []), ...(declared.includes('OPTIONS') ? [] : ['OPTIONS'])];
    preflights.set(group, {
      cors: first,
      corsByMethod,
      allowMethods: [...corsByMethod.keys()].join(', '),
      allow: allow.join(', '),
    });
  }

  // Answers no route owns (404) carry the top-level policy's headers.
  const defaultCors = compileCors(config.cors);
  return new Gateway({ config, table, preflights, defaultCors, mounts }, services);
}

/** The route's composed middleware chain, from the set loaded with the generation. */
function middlewareOf(services: GatewayServices, specs: readonly MiddlewareSpec[]): MiddlewareChain {
  // buildGeneration loads every middleware the config names before compiling.
  if (!services.middleware) throw new CompileError('the config declares middleware, but none was loaded');
  return services.middleware.chainFor(specs);
}
