// Route checks the schema cannot express: what a route matches, and whether
// two routes (or a route and the gateway itself) would compete for a request.
import { HTTP_METHODS, DEFAULTS } from './types.js';
import { isRecord, record, str, type Unknown } from './raw.js';
import type { Reporter } from './source.js';

const RESERVED = '/_portico';

interface Declared {
  index: number;
  key: 'path' | 'pathPrefix';
  target: string;
  methods: string[];
}

/** The function API mount, or null when `api: false`. Garbage counts as the default. */
export function apiPrefixOf(data: Unknown): string | null {
  if (data.api === false) return null;
  return str(record(data.api).prefix) ?? DEFAULTS.apiPrefix;
}

function methodsOf(route: Unknown): string[] {
  const declared = Array.isArray(route.method) ? route.method : [route.method];
  return declared.filter((m): m is string => typeof m === 'string' && (HTTP_METHODS as readonly string[]).includes(m));
}

/** `/users/:id` and `/users/:name` share the shape `/users/:`. */
function shapeOf(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? ':' : segment))
    .join('/');
}

function under(path: string, mount: string): boolean {
  return path === mount || path.startsWith(`${mount}/`);
}

function describe(d: Declared): string {
  return d.key === 'pathPrefix' ? `prefix ${d.target}` : d.target;
}

export function lintRoutes(data: Unknown, report: Reporter): void {
  if (!Array.isArray(data.routes)) return;
  const apiPrefix = apiPrefixOf(data);
  const providers = record(data.auth).providers;
  const hasProviders = Array.isArray(providers) && providers.length > 0;
  // Earlier routes by exact target and by shape: each route meets only the
  // routes it could collide with, so big configs lint in linear time.
  const byTarget = new Map<string, Declared[]>();
  const byShape = new Map<string, Declared[]>();

  data.routes.forEach((route: unknown, index: number) => {
    if (!isRecord(route)) return;
    const at = (...rest: (string | number)[]) => ['routes', index, ...rest];
    const hasPath = route.path !== undefined;
    const hasPrefix = route.pathPrefix !== undefined;
    if (hasPath && hasPrefix) {
      report.atKey(
        'routes/path-or-prefix',
        at('pathPrefix'),
        'route has both path and pathPrefix; keep one',
        'path matches one path exactly, pathPrefix everything below a prefix',
      );
    } else if (!hasPath && !hasPrefix && !report.isMisspelled(at('path')) && !report.isMisspelled(at('pathPrefix'))) {
      report.at('routes/path-or-prefix', at(), 'route has neither path nor pathPrefix', 'add path: /something (exact) or pathPrefix: /something/ (everything below)');
    }

    if (route.auth === 'required' && !hasProviders) {
      report.at(
        'routes/auth-without-provider',
        at('auth'),
        'auth: required, but auth.providers is empty, so every request to this route would get 401',
        'add a provider under auth.providers, or use auth: optional',
      );
    }

    const key = hasPath ? 'path' : 'pathPrefix';
    const target = str(route[key]);
    if (target === undefined || !target.startsWith('/') || report.isSuppressed(at(key))) return;

    if (key === 'pathPrefix' && !target.endsWith('/')) {
      report.at('routes/prefix-trailing-slash', at(key), `pathPrefix '${target}' must end with /`, `write '${target}/'`);
    }
    if (under(target, RESERVED)) {
      report.at('routes/reserved-path', at(key), `${target} is reserved: paths under ${RESERVED}/ belong to the gateway (such as ${RESERVED}/health)`);
    } else if (apiPrefix !== null && under(target, apiPrefix)) {
      report.at(
        'routes/reserved-path',
        at(key),
        `${target} is under ${apiPrefix}, the prefix of the function API`,
        'move the route, change api.prefix, or turn the function API off with api: false',
      );
    }
    if (key === 'path') {
      const names = target.split('/').filter((s) => s.startsWith(':'));
      const repeated = names.find((name, i) => names.indexOf(name) !== i);
      if (repeated) report.at('routes/duplicate-param', at(key), `path '${target}' names the parameter ${repeated} twice`);
    }

    const declared: Declared = { index, key, target, methods: methodsOf(route) };
    const overlap = (other: Declared) => declared.methods.filter((m) => other.methods.includes(m));
    const line = (other: Declared) => report.line(['routes', other.index, other.key]);

    const targetKey = `${key} ${target}`;
    const same = byTarget.get(targetKey) ?? [];
    const twin = same.find((other) => overlap(other).length > 0);
    if (twin) {
      report.at(
        'routes/duplicate',
        at(key),
        `duplicate route: ${overlap(twin).join(', ')} ${describe(declared)} is also declared by routes[${twin.index}] (line ${line(twin)})`,
        'merge them into one route, or change the method or the path',
      );
    }
    same.push(declared);
    byTarget.set(targetKey, same);

    if (key === 'path' && target.includes('/:')) {
      const shape = shapeOf(target);
      const alike = byShape.get(shape) ?? [];
      const rival = alike.find((other) => other.target !== target && overlap(other).length > 0);
      if (rival) {
        report.at(
          'routes/ambiguous-param',
          at(key),
          `ambiguous route: ${overlap(rival).join(', ')} ${target} has the same shape as ${rival.target} in routes[${rival.index}] (line ${line(rival)}); the router cannot tell them apart`,
          'use the same parameter names so they are one route, or make a static segment differ',
        );
      }
      alike.push(declared);
      byShape.set(shape, alike);
    }
  });
}
