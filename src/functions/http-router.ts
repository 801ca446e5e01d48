import type { HttpAction } from './registration.js';

// Routes declared in code, as Convex's `httpRouter()` declares them in
// convex/http.ts. The rules, the order of the checks and the wording of every
// error are Convex's, so a router module written for Convex behaves the same
// here. Portico does not dispatch through this object: the gateway reads
// getRoutes() once and puts the routes in its compiled table beside the ones
// of routes.yaml (lookup() is the reference the table agrees with).

/** The methods a route may name. HEAD runs the GET route; CONNECT and TRACE are never routed. */
export const ROUTABLE_HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;
export type RoutableMethod = (typeof ROUTABLE_HTTP_METHODS)[number];

export type RouteSpec =
  | { path: string; method: RoutableMethod; handler: HttpAction }
  | { pathPrefix: string; method: RoutableMethod; handler: HttpAction };

/** Where in the user's code a route was declared (1-based), when the stack says. */
export interface RouteSite {
  file: string;
  line: number;
  column: number;
}

const ROUTE_SITES = Symbol.for('portico.routeSites');

const THIS_FILE = new URL(import.meta.url).pathname;

/**
 * A set of HTTP routes in code. `path` matches one path exactly (case and
 * trailing slash count); `pathPrefix` ends with `/` and matches every path
 * below it. An exact path wins over any prefix, and the longest prefix wins.
 *
 * @example
 * // convex/http.ts (or functions/http.ts, named by `router:` in routes.yaml)
 * import { httpRouter } from 'portico';
 * import { postMessage } from './messages';
 *
 * const http = httpRouter();
 * http.route({ path: '/postMessage', method: 'POST', handler: postMessage });
 * export default http;
 */
export class HttpRouter {
  readonly exactRoutes = new Map<string, Map<RoutableMethod, HttpAction>>();
  readonly prefixRoutes = new Map<RoutableMethod, Map<string, HttpAction>>();
  readonly isRouter = true as const;
  /** "METHOD path" (a prefix with its `*`) → the line that declared it. */
  readonly [ROUTE_SITES] = new Map<string, RouteSite>();

  /** Adds a route; throws an Error that says what is wrong with it. */
  route = (spec: RouteSpec): void => {
    const given = spec as Partial<{ path: string; pathPrefix: string; method: string; handler: HttpAction }>;
    if (!given.handler) throw new Error('route requires handler');
    if (!given.method) throw new Error('route requires method');
    const { method, handler } = given;
    if (!(ROUTABLE_HTTP_METHODS as readonly string[]).includes(method)) {
      throw new Error(`'${method}' is not an allowed HTTP method (like GET, POST, PUT etc.)`);
    }
    const routable = method as RoutableMethod;
    if ('path' in given) {
      if ('pathPrefix' in given) throw new Error("Invalid httpRouter route: cannot contain both 'path' and 'pathPrefix'");
      const path = given.path as string;
      if (typeof path !== 'string' || !path.startsWith('/')) throw new Error(`path '${path}' does not start with a /`);
      if (path === '/.files' || path.startsWith('/.files/')) throw new Error(`path '${path}' is reserved`);
      const methods = this.exactRoutes.get(path) ?? new Map<RoutableMethod, HttpAction>();
      if (methods.has(routable)) throw new Error(`Path '${path}' for method ${method} already in use`);
      methods.set(routable, handler);
      this.exactRoutes.set(path, methods);
      this.remember(`${method} ${path}`);
    } else if ('pathPrefix' in given) {
      const prefix = given.pathPrefix as string;
      if (typeof prefix !== 'string' || !prefix.startsWith('/')) throw new Error(`pathPrefix '${prefix}' does not start with a /`);
      if (!prefix.endsWith('/')) throw new Error(`pathPrefix ${prefix} must end with a /`);
      if (prefix.startsWith('/.files/')) throw new Error(`pathPrefix '${prefix}' is reserved`);
      const prefixes = this.prefixRoutes.get(routable) ?? new Map<string, HttpAction>();
      if (prefixes.has(prefix)) throw new Error(`${method} pathPrefix ${prefix} is already defined`);
      prefixes.set(prefix, handler);
      this.prefixRoutes.set(routable, prefixes);
      this.remember(`${method} ${prefix}*`);
    } else {
      throw new Error("Invalid httpRouter route entry: must contain either field 'path' or 'pathPrefix'");
    }
  };

  /**
   * Every route as `[path, method, handler]`: exact paths sorted, each with
   * its methods sorted, then prefixes (shown as `prefix*`) by method, then by
   * prefix.
   */
  getRoutes = (): [string, RoutableMethod, HttpAction][] => {
    const exact = [...this.exactRoutes.keys()].sort().flatMap((path) => {
      const methods = this.exactRoutes.get(path)!;
      return [...methods.keys()].sort().map((method) => [path, method, methods.get(method)!] as [string, RoutableMethod, HttpAction]);
    });
    const prefixed = [...this.prefixRoutes.keys()].sort().flatMap((method) => {
      const prefixes = this.prefixRoutes.get(method)!;
      return [...prefixes.keys()].sort().map((prefix) => [`${prefix}*`, method, prefixes.get(prefix)!] as [string, RoutableMethod, HttpAction]);
    });
    return [...exact, ...prefixed];
  };

  /**
   * The route a request would take: `[handler, method, path]` (a prefix
   * route's path with its `*`), or null. HEAD looks up GET. There is no
   * fallback to other methods: a path routed only for GET gives null for POST.
   */
  lookup = (path: string, method: RoutableMethod | 'HEAD'): [HttpAction, RoutableMethod, string] | null => {
    const wanted = (method === 'HEAD' ? 'GET' : method) as RoutableMethod;
    const exact = this.exactRoutes.get(path)?.get(wanted);
    if (exact) return [exact, wanted, path];
    const prefixes = [...(this.prefixRoutes.get(wanted) ?? new Map<string, HttpAction>()).entries()].sort(([a], [b]) => b.length - a.length);
    for (const [prefix, handler] of prefixes) {
      if (path.startsWith(prefix)) return [handler, wanted, `${prefix}*`];
    }
    return null;
  };

  // The caller's line, for messages that point at a route (a clash with
  // routes.yaml). Module code runs with source maps on, so this is the
  // user's own file and line.
  private remember(key: string): void {
    const stack = new Error().stack ?? '';
    for (const match of stack.split('\n').slice(1)) {
      const frame = /\(?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?\s*$/.exec(match);
      if (!frame) continue;
      const file = frame[1]!.replace(/^file:\/\//, '');
      if (file === THIS_FILE || file.startsWith('node:')) continue;
      this[ROUTE_SITES].set(key, { file: decodeURIComponent(file), line: Number(frame[2]), column: Number(frame[3]) });
      return;
    }
  }
}

/** A new, empty router; make it the default export of the router module. */
export function httpRouter(): HttpRouter {
  return new HttpRouter();
}

/** Anything that quacks like a router: this one, or a copy from another package. */
export interface RouterLike {
  isRouter: true;
  getRoutes(): [string, string, unknown][];
}

export function isRouterLike(value: unknown): value is RouterLike {
  return typeof value === 'object' && value !== null && (value as RouterLike).isRouter === true && typeof (value as RouterLike).getRoutes === 'function';
}

/** Where a router (of this package) declared `key` ("METHOD path"). */
export function routeSite(router: RouterLike, key: string): RouteSite | null {
  const sites = (router as { [ROUTE_SITES]?: Map<string, RouteSite> })[ROUTE_SITES];
  return sites?.get(key) ?? null;
}
