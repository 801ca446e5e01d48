// How a route's CORS policy comes out of the top-level `cors` and its own.
// Shared by resolution and by the CORS linter, so both judge the same policy.
import { DEFAULTS, type CorsPolicy } from './types.js';
import { isRecord, strings } from './raw.js';

/**
 * The effective policy: the route's own `cors` over the top-level one, field
 * by field (lists replace, they do not concatenate); `cors: false` on the
 * route turns CORS off; with no top-level policy, a route has one only if it
 * declares it. Fields of the wrong type count as absent, so this is safe on
 * unvalidated input.
 */
export function effectiveCors(top: unknown, own: unknown): CorsPolicy | null {
  if (own === false) return null;
  const base = isRecord(top) ? top : undefined;
  const route = isRecord(own) ? own : undefined;
  if (!base && !route) return null;
  const pick = (key: string): unknown => (route && key in route ? route[key] : base?.[key]);
  const credentials = pick('credentials');
  const maxAge = pick('maxAge');
  return {
    origins: strings(pick('origins')) ?? [],
    allowHeaders: strings(pick('allowHeaders')) ?? ['Content-Type'],
    exposeHeaders: strings(pick('exposeHeaders')) ?? [],
    credentials: typeof credentials === 'boolean' ? credentials : false,
    maxAge: typeof maxAge === 'number' ? maxAge : DEFAULTS.corsMaxAge,
  };
}
