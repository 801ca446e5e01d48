import FindMyWay from 'find-my-way';
import { HTTP_METHODS, type HttpMethod } from '../config/types.js';

// Route lookup for the compiled gateway. Each method has its own radix tree
// (find-my-way): static paths beat `:param` paths beat prefixes, the longest
// prefix wins, and lookup cost does not grow with the number of routes.
//
// Routes that share a path pattern form a PathGroup; the group is what a
// generated CORS preflight answers for, and what the 405 `Allow` header lists.

export interface TableRoute<R> {
  /** `/users/:id`, or a prefix ending in `/`. */
  path: string;
  kind: 'exact' | 'prefix';
  methods: readonly HttpMethod[];
  value: R;
}

export interface PathGroup<R> {
  path: string;
  kind: 'exact' | 'prefix';
  byMethod: ReadonlyMap<HttpMethod, R>;
}

export type Match<R> =
  | { kind: 'route'; value: R; group: PathGroup<R>; params: Record<string, string> }
  | { kind: 'preflight'; group: PathGroup<R>; params: Record<string, string> };

type Store<R> = { kind: 'route'; value: R; group: PathGroup<R> } | { kind: 'preflight'; group: PathGroup<R> };

const NO_QUERY = Object.freeze({});

function newRouter() {
  return FindMyWay({
    caseSensitive: true,
    ignoreTrailingSlash: false,
    ignoreDuplicateSlashes: false,
    // Parameters are path segments such as ids and slugs; the default of
    // 100 characters would turn a long id into a 404.
    maxParamLength: 2048,
    // The query string is the handler's business (request.url).
    querystringParser: () => NO_QUERY,
  });
}

type Found<R> = { store: Store<R>; params: Record<string, string> } | null;

export class RouteTable<R> {
  private readonly router = newRouter();
  // The prefix routes alone: where a path goes when the route it found in
  // `router` wanted a parameter it left empty (see find).
  private readonly prefixRouter = newRouter();
  private readonly methods = new Set<HttpMethod>();
  /** The methods of `methods` in the usual order (GET, POST, ...), so Allow reads the same whatever the config's order. */
  private readonly allowOrder: readonly HttpMethod[];
  readonly groups: PathGroup<R>[] = [];

  /**
   * @param wantsPreflight whether a generated OPTIONS preflight should answer
   *   for this group (the caller knows its CORS policies).
   */
  constructor(routes: readonly TableRoute<R>[], wantsPreflight: (group: PathGroup<R>) => boolean) {
    const byKey = new Map<string, { path: string; kind: 'exact' | 'prefix'; byMethod: Map<HttpMethod, R> }>();
    for (const route of routes) {
      const key = `${route.kind}\0${route.path}`;
      let group = byKey.get(key);
      if (!group) {
        group = { path: route.path, kind: route.kind, byMethod: new Map() };
        byKey.set(key, group);
        this.groups.push(group);
      }
      for (const method of route.methods) group.byMethod.set(method, route.value);
    }
    for (const group of this.groups) {
      const pattern = group.kind === 'prefix' ? `${group.path}*` : group.path;
      for (const [method, value] of group.byMethod) {
        this.register(method, pattern, { kind: 'route', value, group });
      }
      if (!group.byMethod.has('OPTIONS') && wantsPreflight(group)) {
        this.register('OPTIONS', pattern, { kind: 'preflight', group });
      }
    }
    this.allowOrder = HTTP_METHODS.filter((method) => this.methods.has(method));
  }

  /** The route for `method` at `path` (no query string). HEAD finds GET routes. */
  match(method: string, path: string): Match<R> | null {
    const found = this.find(method === 'HEAD' ? 'GET' : method, path);
    if (found === null) return null;
    const { store, params } = found;
    // find-my-way names the prefix remainder '*'; it is not a parameter.
    if (store.group.kind === 'prefix') delete params['*'];
    return store.kind === 'route'
      ? { kind: 'route', value: store.value, group: store.group, params }
      : { kind: 'preflight', group: store.group, params };
  }

  /** Methods some route answers at `path`, for a 405's Allow header. */
  allowedMethods(path: string): string[] {
    const allowed: string[] = [];
    for (const method of this.allowOrder) {
      if (this.find(method, path) !== null) {
        allowed.push(method);
        if (method === 'GET') allowed.push('HEAD');
      }
    }
    return allowed;
  }

  /**
   * find-my-way lets a `:param` match an empty segment (`/notes/` on
   * `/notes/:id`, `/notes//x` on `/notes/:id/x`). A parameter is a value,
   * never nothing, so such a match is refused, and the path goes to the
   * prefix routes, the only ones a parameter route could have shadowed
   * (static routes already beat it). A regex parameter would say the same
   * to the router, at about 0.3 µs per lookup; this check costs a loop over
   * the (usually one) parameters.
   */
  private find(method: string, path: string): Found<R> {
    const found = this.router.find(method as any, path);
    if (found === null) return null;
    const store = found.store as Store<R>;
    const params = (found.params as Record<string, string>) ?? {};
    if (store.group.kind === 'exact') {
      for (const name in params) {
        if (params[name] === '') {
          const prefix = this.prefixRouter.find(method as any, path);
          return prefix === null ? null : { store: prefix.store as Store<R>, params: (prefix.params as Record<string, string>) ?? {} };
        }
      }
    }
    return { store, params };
  }

  private register(method: HttpMethod, pattern: string, store: Store<R>): void {
    this.methods.add(method);
    // find-my-way reads ':' as a parameter and '*' as a wildcard; the config
    // schema admits neither elsewhere in a path, so patterns pass as they are.
    this.router.on(method, pattern, noop, store);
    if (store.group.kind === 'prefix') this.prefixRouter.on(method, pattern, noop, store);
  }
}

function noop(): void {}
