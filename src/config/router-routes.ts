// Routes declared in code (a router module's `http.route(...)` calls) as
// routes of the config: they take the top-level policies, exactly what a
// routes.yaml route without keys of its own gets (CORS with its generated
// preflights, limits, rate limit, compression), and they are checked against
// the routes of routes.yaml, each problem naming both places.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { diagnostic, type Diagnostic } from './diagnostics.js';
import { keyPosition, parseYaml } from './source.js';
import type { HttpMethod, PorticoConfig, RouteConfig } from './types.js';

export interface CodeRoute {
  method: HttpMethod;
  /** The path, or the prefix with its trailing `/` (without the `*`). */
  path: string;
  kind: 'exact' | 'prefix';
  /** What `portico routes` and the logs call the handler. */
  handler: string;
  /** Where the route was declared, when known. */
  site: { file: string; line: number; column: number } | null;
}

/** Where `key` (a top-level key such as `router`) sits in the config file. */
export async function topLevelKeyPosition(file: string, key: string): Promise<{ line: number; column: number }> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return keyPosition(parseYaml(file, text).source, [key]);
}

/** Paths the route table would read as a parameter or a wildcard. */
const TABLE_SYNTAX = /[:*]/;

/** The config with the code routes after its own, each with the top-level policies. */
export function withCodeRoutes(config: PorticoConfig, routes: readonly CodeRoute[]): PorticoConfig {
  if (routes.length === 0) return config;
  const added = routes.map(
    (route, i): RouteConfig => ({
      index: config.routes.length + i,
      path: route.path,
      kind: route.kind,
      methods: [route.method],
      handler: route.handler,
      proxy: null,
      summary: null,
      description: null,
      tags: [],
      // An OPTIONS route written in code is the app's own preflight, as in
      // Convex: its CORS headers go out as it sets them.
      cors: route.method === 'OPTIONS' ? null : config.cors,
      auth: 'optional',
      bodyLimit: config.limits.body,
      responseLimit: config.limits.response,
      timeoutMs: config.limits.timeoutMs,
      rateLimit: config.rateLimit,
      request: null,
      compression: config.compression,
      middleware: config.middleware,
    }),
  );
  return Object.freeze({ ...config, routes: Object.freeze([...config.routes, ...added]) as RouteConfig[] });
}

/**
 * Problems of the code routes: one that routes.yaml declares too (reported
 * at the YAML route, naming the line of code), one under a path the gateway
 * keeps for itself, one the table cannot hold literally.
 */
export async function lintCodeRoutes(config: PorticoConfig, routes: readonly CodeRoute[], routerFile: string): Promise<Diagnostic[]> {
  const diagnostics: Diagnostic[] = [];
  const shown = (route: CodeRoute) => `${route.method} ${route.kind === 'prefix' ? `${route.path}*` : route.path}`;
  const where = (route: CodeRoute) => {
    const site = route.site ?? { file: routerFile, line: 1, column: 1 };
    return { file: site.file, at: { line: site.line, column: site.column } };
  };
  const relative = (file: string) => path.relative(path.dirname(config.file), file) || file;

  let yamlAt: ((index: number, key: string) => { line: number; column: number }) | null = null;
  const yamlPosition = async (index: number, key: string) => {
    if (yamlAt === null) {
      const text = await readFile(config.file, 'utf8').catch(() => '');
      const { source } = parseYaml(config.file, text);
      yamlAt = (i, k) => keyPosition(source, ['routes', i, k]);
    }
    return yamlAt(index, key);
  };

  for (const route of routes) {
    const { file, at } = where(route);
    const clash = config.routes.find((other) => other.kind === route.kind && other.path === route.path && other.methods.includes(route.method));
    if (clash) {
      const code = `${relative(file)}:${at.line}:${at.column}`;
      diagnostics.push(
        diagnostic(
          'routes/duplicate',
          config.file,
          await yamlPosition(clash.index, clash.kind === 'prefix' ? 'pathPrefix' : 'path'),
          `duplicate route: ${shown(route)} is declared by routes[${clash.index}] here and by the router module at ${code}`,
          'remove one of them, or change its method or path',
        ),
      );
    }
    const reserved = ['/_portico', ...(config.api ? [config.api.prefix] : [])].find((mount) => route.path === mount || route.path.startsWith(`${mount}/`));
    if (reserved !== undefined) {
      diagnostics.push(
        diagnostic(
          'routes/reserved-path',
          file,
          at,
          reserved === '/_portico'
            ? `${shown(route)} is reserved: paths under /_portico/ belong to the gateway`
            : `${shown(route)} is under ${reserved}, the prefix of the function API`,
          reserved === '/_portico' ? 'move the route' : 'move the route, change api.prefix in routes.yaml, or turn the function API off with api: false',
        ),
      );
    }
    if (TABLE_SYNTAX.test(route.path)) {
      diagnostics.push(
        diagnostic(
          'router/unsupported-path',
          file,
          at,
          `${shown(route)}: a router path with ':' or '*' is not supported (the route table reads them as a parameter or a wildcard)`,
          'declare it in routes.yaml, where /users/:id is a parameter, or use a pathPrefix',
        ),
      );
    }
  }
  return diagnostics;
}
