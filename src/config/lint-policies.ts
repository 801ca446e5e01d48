// Checks on the traffic policies the schema cannot express: a rate limit
// complete once merged over the top-level one, a window of whole seconds, a
// key naming a parameter the path declares, a Redis URL that parses, and
// request schemas (on handler and proxy routes alike) that load and compile
// (inline, or the file a $ref names) and a body schema only where a body can come.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ms from 'ms';
import { isRecord, type Unknown } from './raw.js';
import { parseMiddlewareUse, requestSchemaAjv } from './policies.js';
import type { Reporter } from './source.js';

const REQUEST_PARTS = ['body', 'query', 'params', 'headers'] as const;
/** The gateway reads no body on these. */
const METHODS_WITHOUT_BODY = new Set(['GET', 'OPTIONS']);

export function lintPolicies(data: Unknown, dir: string, report: Reporter): void {
  const top = isRecord(data.rateLimit) ? data.rateLimit : null;
  if (top) lintRateLimit(top, ['rateLimit'], null, report);
  lintMiddleware(data.middleware, ['middleware'], dir, report);
  if (!Array.isArray(data.routes)) return;
  data.routes.forEach((route: unknown, index: number) => {
    if (!isRecord(route)) return;
    const at = (...rest: (string | number)[]) => ['routes', index, ...rest];
    if (isRecord(route.rateLimit)) {
      const own = route.rateLimit;
      if (!top && (own.requests === undefined || own.per === undefined)) {
        report.at('policies/rate-limit', at('rateLimit'), 'rateLimit needs requests and per (there is no top-level rateLimit to take them from)', 'rateLimit: { requests: 100, per: 1m }');
      }
      lintRateLimit(own, at('rateLimit'), typeof route.path === 'string' ? route.path : null, report);
    } else if (top && typeof top.key === 'string' && top.key.startsWith('param:') && route.rateLimit !== false) {
      lintKey(top.key, at(), typeof route.path === 'string' ? route.path : null, report, 'the top-level rateLimit');
    }
    lintMiddleware(route.middleware, at('middleware'), dir, report);
    if (!isRecord(route.request)) return;
    lintBodyWithoutBody(route, at, report);
    for (const part of REQUEST_PARTS) {
      const schema = route.request[part];
      if (!isRecord(schema)) continue;
      // An ajv of its own per schema, as at start-up: two routes may share a schema file with an $id.
      lintSchema(schema, at('request', part), part, dir, requestSchemaAjv(part !== 'body'), report);
    }
  });
}

/** A body schema on a route whose methods never carry a body would refuse every request it gets. */
function lintBodyWithoutBody(route: Unknown, at: (...rest: (string | number)[]) => (string | number)[], report: Reporter): void {
  const request = route.request as Unknown;
  if (!isRecord(request.body)) return;
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((method): method is string => typeof method === 'string');
  if (methods.length === 0 || methods.some((method) => !METHODS_WITHOUT_BODY.has(method))) return;
  report.atKey(
    'policies/request-schema',
    at('request', 'body'),
    `request.body on a route whose methods (${methods.join(', ')}) carry no body: every request would be refused`,
    'check the query string with request.query, or declare POST, PUT or PATCH',
  );
}

function lintRateLimit(limit: Unknown, at: (string | number)[], routePath: string | null, report: Reporter): void {
  if (limit.per !== undefined) {
    const windowMs = typeof limit.per === 'number' ? limit.per : typeof limit.per === 'string' ? ms(limit.per as ms.StringValue) : NaN;
    if (Number.isFinite(windowMs) && (windowMs < 1000 || windowMs % 1000 !== 0)) {
      report.at('policies/rate-limit', [...at, 'per'], `a rate limit window is counted in whole seconds; ${String(limit.per)} is not`, 'per: 1s, 10s, 1m, 1h');
    }
  }
  if (typeof limit.key === 'string' && limit.key.startsWith('param:')) lintKey(limit.key, [...at, 'key'], routePath, report, 'key');
  if (typeof limit.store === 'string' && limit.store !== 'memory') {
    try {
      new URL(limit.store);
    } catch {
      report.at('config/malformed-url', [...at, 'store'], `rateLimit.store '${limit.store}' is not a valid redis:// URL`, 'redis://127.0.0.1:6379');
    }
  }
}

function lintKey(key: string, at: (string | number)[], routePath: string | null, report: Reporter, what: string): void {
  const name = key.slice('param:'.length);
  const params = routePath === null ? [] : routePath.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1));
  if (params.includes(name)) return;
  report.at('policies/rate-limit', at, `${what} ${key} names a parameter this route's path does not declare`, params.length > 0 ? `the path has ${params.map((p) => ':' + p).join(', ')}` : 'declare it in path as :' + name);
}

function lintSchema(schema: Unknown, at: (string | number)[], part: string, dir: string, ajv: ReturnType<typeof requestSchemaAjv>, report: Reporter): void {
  let loaded: unknown = schema;
  const ref = schema.$ref;
  if (typeof ref === 'string' && Object.keys(schema).length === 1 && !ref.startsWith('#')) {
    const file = path.resolve(dir, ref);
    if (!existsSync(file)) return report.at('config/missing-file', [...at, '$ref'], `request.${part} schema file ${ref} does not exist`);
    try {
      loaded = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      return report.at('policies/request-schema', [...at, '$ref'], `request.${part} schema file ${ref} is not JSON: ${(error as Error).message}`);
    }
  }
  try {
    ajv.compile(loaded as object);
  } catch (error) {
    report.at('policies/request-schema', typeof ref === 'string' ? [...at, '$ref'] : at, `request.${part} is not a valid JSON Schema: ${(error as Error).message}`);
  }
}

/** Each middleware names a file that exists, or a package installed where the project resolves packages. */
function lintMiddleware(list: unknown, at: (string | number)[], dir: string, report: Reporter): void {
  if (!Array.isArray(list)) return;
  list.forEach((entry: unknown, index: number) => {
    const use = typeof entry === 'string' ? entry : isRecord(entry) && typeof entry.use === 'string' ? entry.use : null;
    if (use === null) return;
    const where = typeof entry === 'string' ? [...at, index] : [...at, index, 'use'];
    const { file } = parseMiddlewareUse(use, dir);
    if (file !== null) {
      if (!existsSync(file)) report.at('config/missing-file', where, `middleware file ${path.relative(dir, file) || file} does not exist`);
    } else if (!packageInstalled(use, dir)) {
      report.at('policies/middleware', where, `middleware package ${use} is not installed`, `npm install ${use}`);
    }
  });
}

function packageInstalled(name: string, dir: string): boolean {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'node_modules', name, 'package.json'))) return true;
    if (path.dirname(at) === at) return false;
  }
}
