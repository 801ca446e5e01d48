import type { CorsPolicy, PorticoConfig, RouteConfig } from '../config/types.js';

// What changed between two configurations, route by route and method by
// method, with the changes that can break a client marked: a route or a
// method gone, auth made required, a limit lowered, an origin or header no
// longer allowed, the function API moved or turned off. Routes are matched
// by method and path shape, so renaming `:id` to `:userId` is a change, not
// a removal and an addition.

export interface Change {
  kind: 'added' | 'removed' | 'changed';
  breaking: boolean;
  /** `GET /users/:id`, `prefix /svc/`, or a top-level key. */
  subject: string;
  /** The setting that changed, for `changed`. */
  field?: string;
  before?: unknown;
  after?: unknown;
  message: string;
}

interface Entry {
  method: string;
  route: RouteConfig;
}

export function diffConfigs(before: PorticoConfig, after: PorticoConfig): Change[] {
  const changes: Change[] = [];
  const old = entries(before);
  const now = entries(after);
  for (const [key, entry] of old) {
    const next = now.get(key);
    if (next === undefined) {
      changes.push({ kind: 'removed', breaking: true, subject: subject(entry), message: `${subject(entry)} was removed: clients calling it get 404 or 405` });
    } else {
      compareRoute(entry, next, changes);
    }
  }
  for (const [key, entry] of now) {
    if (!old.has(key)) changes.push({ kind: 'added', breaking: false, subject: subject(entry), message: `${subject(entry)} was added` });
  }
  compareTop(before, after, changes);
  return changes;
}

function entries(config: PorticoConfig): Map<string, Entry> {
  const map = new Map<string, Entry>();
  for (const route of config.routes) {
    const shape = route.kind === 'prefix' ? `prefix ${route.path}` : route.path.replace(/\/:[^/]+/g, '/:');
    for (const method of route.methods) map.set(`${method} ${shape}`, { method, route });
  }
  return map;
}

function subject({ method, route }: Entry): string {
  return `${method} ${route.kind === 'prefix' ? `${route.path}*` : route.path}`;
}

function compareRoute(a: Entry, b: Entry, changes: Change[]): void {
  const at = subject(b);
  const change = (field: string, breaking: boolean, before: unknown, after: unknown, message: string) => changes.push({ kind: 'changed', breaking, subject: at, field, before, after, message: `${at}: ${message}` });
  const ra = a.route;
  const rb = b.route;
  if (ra.path !== rb.path) change('path', false, ra.path, rb.path, `path parameters renamed (${ra.path} → ${rb.path})`);
  if (ra.handler !== rb.handler) change(rb.proxy ? 'proxy' : 'handler', false, ra.handler, rb.handler, `now served by ${rb.handler} (was ${ra.handler})`);
  if (ra.auth !== rb.auth) {
    const required = rb.auth === 'required';
    change('auth', required, ra.auth, rb.auth, required ? 'auth is now required: calls without a token get 401' : 'auth is no longer required');
  }
  limit('bodyLimit', ra.bodyLimit, rb.bodyLimit, 'request body limit', change);
  limit('responseLimit', ra.responseLimit, rb.responseLimit, 'response body limit', change);
  limit('timeout', ra.timeoutMs, rb.timeoutMs, 'timeout (ms)', change);
  if (ra.proxy && rb.proxy) {
    limit('proxy.timeout', ra.proxy.timeoutMs, rb.proxy.timeoutMs, 'upstream timeout (ms)', change);
    if (ra.proxy.bodyLimit !== rb.proxy.bodyLimit) limit('bodyLimit', ra.proxy.bodyLimit ?? Infinity, rb.proxy.bodyLimit ?? Infinity, 'request body limit', change);
    const pathRule = (p: NonNullable<RouteConfig['proxy']>) => (p.rewrite !== null ? `rewrite ${p.rewrite}` : p.stripPrefix ? 'stripPrefix' : 'path as is');
    if (pathRule(ra.proxy) !== pathRule(rb.proxy)) change('proxy.path', false, pathRule(ra.proxy), pathRule(rb.proxy), `upstream path: ${pathRule(rb.proxy)} (was ${pathRule(ra.proxy)})`);
  }
  compareRateLimit(ra, rb, change);
  compareCors(ra.cors, rb.cors, change);
}

type ChangeFn = (field: string, breaking: boolean, before: unknown, after: unknown, message: string) => void;

function limit(field: string, before: number, after: number, what: string, change: ChangeFn): void {
  if (before === after) return;
  const show = (n: number) => (Number.isFinite(n) ? String(n) : 'none');
  change(field, after < before, before, after, `${what} ${after < before ? 'lowered' : 'raised'} from ${show(before)} to ${show(after)}`);
}

/** Rate limits, when the configuration declares them: fewer requests per longer windows break clients. */
function compareRateLimit(a: RouteConfig, b: RouteConfig, change: ChangeFn): void {
  const ra = (a as { rateLimit?: { requests: number; perMs?: number; windowMs?: number } | null }).rateLimit ?? null;
  const rb = (b as { rateLimit?: { requests: number; perMs?: number; windowMs?: number } | null }).rateLimit ?? null;
  if (JSON.stringify(ra) === JSON.stringify(rb)) return;
  const rate = (r: typeof ra) => (r === null ? Infinity : r.requests / (r.perMs ?? r.windowMs ?? 1));
  change('rateLimit', rate(rb) < rate(ra), ra, rb, rb === null ? 'rate limit removed' : ra === null ? 'rate limit added' : `rate limit ${rate(rb) < rate(ra) ? 'lowered' : 'raised'}`);
}

function compareCors(a: CorsPolicy | null, b: CorsPolicy | null, change: ChangeFn): void {
  if (a === null && b === null) return;
  if (a === null) return change('cors', false, null, b, 'CORS turned on');
  if (b === null) return change('cors', true, a, null, 'CORS turned off: browsers on other origins can no longer call it');
  const lost = (x: string[], y: string[]) => x.filter((item) => !y.includes(item) && !y.includes('*'));
  const gone = lost(a.origins, b.origins);
  const added = b.origins.filter((o) => !a.origins.includes(o));
  if (gone.length > 0) change('cors.origins', true, a.origins, b.origins, `origins no longer allowed: ${gone.join(', ')}`);
  else if (added.length > 0) change('cors.origins', false, a.origins, b.origins, `origins added: ${added.join(', ')}`);
  const lower = (list: string[]) => list.map((h) => h.toLowerCase());
  const headersGone = lost(lower(a.allowHeaders), lower(b.allowHeaders));
  if (headersGone.length > 0) change('cors.allowHeaders', true, a.allowHeaders, b.allowHeaders, `request headers no longer allowed: ${headersGone.join(', ')}`);
  else if (a.allowHeaders.length !== b.allowHeaders.length) change('cors.allowHeaders', false, a.allowHeaders, b.allowHeaders, 'more request headers allowed');
  const exposedGone = lost(lower(a.exposeHeaders), lower(b.exposeHeaders));
  if (exposedGone.length > 0) change('cors.exposeHeaders', true, a.exposeHeaders, b.exposeHeaders, `response headers no longer exposed: ${exposedGone.join(', ')}`);
  else if (a.exposeHeaders.length !== b.exposeHeaders.length) change('cors.exposeHeaders', false, a.exposeHeaders, b.exposeHeaders, 'more response headers exposed');
  if (a.credentials !== b.credentials) change('cors.credentials', a.credentials, a.credentials, b.credentials, b.credentials ? 'credentials now allowed' : 'credentials no longer allowed: cookies and auth headers from browsers stop working');
  if (a.maxAge !== b.maxAge) change('cors.maxAge', false, a.maxAge, b.maxAge, `preflight max-age ${a.maxAge} → ${b.maxAge}`);
}

function compareTop(a: PorticoConfig, b: PorticoConfig, changes: Change[]): void {
  const top = (field: string, breaking: boolean, before: unknown, after: unknown, message: string) => changes.push({ kind: 'changed', breaking, subject: field, field, before, after, message });
  if (a.api !== null && b.api === null) top('api', true, a.api.prefix, null, `the function API at ${a.api.prefix} was turned off`);
  else if (a.api === null && b.api !== null) top('api', false, null, b.api.prefix, `the function API was turned on at ${b.api.prefix}`);
  else if (a.api && b.api && a.api.prefix !== b.api.prefix) top('api.prefix', true, a.api.prefix, b.api.prefix, `the function API moved from ${a.api.prefix} to ${b.api.prefix}`);
  const issuers = (c: PorticoConfig) => c.auth.providers.map((p) => p.issuer);
  const goneIssuers = issuers(a).filter((i) => !issuers(b).includes(i));
  if (goneIssuers.length > 0) top('auth.providers', true, issuers(a), issuers(b), `tokens from ${goneIssuers.join(', ')} are no longer accepted`);
  const addedIssuers = issuers(b).filter((i) => !issuers(a).includes(i));
  if (addedIssuers.length > 0) top('auth.providers', false, issuers(a), issuers(b), `tokens from ${addedIssuers.join(', ')} are now accepted`);
  if (a.limits.body > b.limits.body) top('limits.body', true, a.limits.body, b.limits.body, `the default body limit was lowered from ${a.limits.body} to ${b.limits.body}`);
}
