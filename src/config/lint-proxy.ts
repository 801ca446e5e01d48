// Checks on proxy routes the schema cannot express: a route runs a handler or
// forwards to upstreams, never both or neither, and a rewrite template only
// names parameters the route's path declares.
import { isRecord, type Unknown } from './raw.js';
import type { Reporter } from './source.js';

const PLACEHOLDER = /\{([^{}]*)\}/g;

export function lintProxy(data: Unknown, report: Reporter): void {
  if (!Array.isArray(data.routes)) return;
  data.routes.forEach((route: unknown, index: number) => {
    if (!isRecord(route)) return;
    const at = (...rest: (string | number)[]) => ['routes', index, ...rest];
    const hasHandler = route.handler !== undefined;
    const hasProxy = route.proxy !== undefined;
    if (hasHandler && hasProxy) {
      report.atKey('routes/handler-or-proxy', at('proxy'), 'route has both handler and proxy; keep one', 'handler runs an HTTP action, proxy forwards to upstream services');
    } else if (!hasHandler && !hasProxy && !report.isMisspelled(at('handler')) && !report.isMisspelled(at('proxy'))) {
      // The schema cannot say "one of the two" without a vague anyOf message: said here, as it would say it.
      report.at('schema/required', at(), "route is missing required key 'handler'", 'or forward it to upstreams with proxy: { upstream: http://host:port }');
    }
    if (!isRecord(route.proxy)) return;
    const proxy = route.proxy;
    const isPrefix = typeof route.pathPrefix === 'string' && route.path === undefined;
    if (proxy.stripPrefix === true && !isPrefix) {
      report.at('proxy/strip-without-prefix', at('proxy', 'stripPrefix'), 'stripPrefix only applies to a pathPrefix route', 'use rewrite: /new/path for an exact path');
    } else if (proxy.stripPrefix === true && proxy.rewrite !== undefined) {
      report.at('proxy/strip-without-prefix', at('proxy', 'stripPrefix'), 'stripPrefix and rewrite both say what the upstream path is; keep one', 'rewrite: /base/{*} strips the prefix and adds a base');
    }
    if (typeof proxy.rewrite !== 'string') return;
    const params = typeof route.path === 'string' ? route.path.split('/').filter((s) => s.startsWith(':')).map((s) => s.slice(1)) : [];
    for (const [, name] of proxy.rewrite.matchAll(PLACEHOLDER)) {
      if (name === '*' ? isPrefix : params.includes(name!)) continue;
      const known = [...params.map((p) => `{${p}}`), ...(isPrefix ? ['{*}'] : [])];
      report.at(
        'proxy/unknown-param',
        at('proxy', 'rewrite'),
        name === '*' ? '{*} (the rest of the path) only exists on a pathPrefix route' : `rewrite names {${name}}, which the route's path does not declare`,
        known.length > 0 ? `the route has ${known.join(', ')}` : 'declare it in path as :' + name,
      );
    }
  });
}
