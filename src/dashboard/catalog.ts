import type { PorticoConfig, RouteConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';
import { isValidator } from '../values/validators.js';

// What the Functions view lists: every route as the gateway compiled it
// (with the OPTIONS preflights it generates), every function with its
// arguments as JSON Schema, and the HTTP actions.

export interface RouteRow {
  methods: string[];
  path: string;
  kind: 'exact' | 'prefix';
  handler: string;
  cors: string;
  auth: string;
  limits: { body: number; response: number; timeoutMs: number };
  generated: boolean;
}

export function routeRows(config: PorticoConfig): RouteRow[] {
  const rows: RouteRow[] = config.routes.map((route) => ({
    methods: [...route.methods],
    path: route.kind === 'prefix' ? `${route.path}*` : route.path,
    kind: route.kind,
    handler: route.handler,
    cors: route.cors === null ? 'off' : route.cors.origins.join(', '),
    auth: route.auth,
    limits: { body: route.bodyLimit, response: route.responseLimit, timeoutMs: route.timeoutMs },
    generated: false,
  }));
  // A preflight for every path with a CORS route, unless OPTIONS is declared there.
  const byPath = new Map<string, RouteConfig[]>();
  for (const route of config.routes) byPath.set(`${route.kind}:${route.path}`, [...(byPath.get(`${route.kind}:${route.path}`) ?? []), route]);
  for (const routes of byPath.values()) {
    const first = routes[0]!;
    if (!routes.some((r) => r.cors !== null) || routes.some((r) => r.methods.includes('OPTIONS'))) continue;
    rows.push({
      methods: ['OPTIONS'],
      path: first.kind === 'prefix' ? `${first.path}*` : first.path,
      kind: first.kind,
      handler: '(CORS preflight)',
      cors: routes.find((r) => r.cors !== null)!.cors!.origins.join(', '),
      auth: 'optional',
      limits: { body: 0, response: 0, timeoutMs: 0 },
      generated: true,
    });
  }
  return rows;
}

export interface FunctionRow {
  name: string;
  kind: string;
  visibility: string;
  args: unknown;
}

export function functionRows(modules: LoadedModules): FunctionRow[] {
  const rows: FunctionRow[] = [];
  for (const [name, fn] of modules.functions) rows.push({ name, kind: fn.kind, visibility: fn.visibility, args: argsSchema(fn.args) });
  for (const name of modules.httpActions.keys()) rows.push({ name, kind: 'httpAction', visibility: 'route', args: null });
  return rows.sort((a, b) => a.name.localeCompare(b.name));
}

function argsSchema(args: unknown): unknown {
  if (args === null || args === undefined) return { type: 'object' };
  if (isValidator(args)) return (args as { json: unknown }).json;
  const fields = Object.entries(args as Record<string, { json: unknown; isOptional: string }>);
  return {
    type: 'object',
    properties: Object.fromEntries(fields.map(([key, validator]) => [key, validator.json])),
    required: fields.filter(([, validator]) => validator.isOptional !== 'optional').map(([key]) => key),
    additionalProperties: false,
  };
}
