// Where a proxied request goes on the upstream: the path as it came, without
// the route's prefix (stripPrefix), or a template filled with the route's
// parameters (rewrite: /v2/{id}, /base/{*}). The query string always goes
// along. Compiled once per route into a function of (url, params).

export type TargetPath = (url: string, params: Record<string, string>) => string;

export interface TargetPathOptions {
  /** The route's path or prefix (ending in `/`). */
  routePath: string;
  isPrefix: boolean;
  stripPrefix: boolean;
  rewrite: string | null;
  /** The upstream URL's own path ('' or '/base'), put in front. */
  basePath: string;
}

export function compileTargetPath({ routePath, isPrefix, stripPrefix, rewrite, basePath }: TargetPathOptions): TargetPath {
  if (rewrite !== null) {
    const parts = compileTemplate(rewrite);
    return (url, params) => {
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      let out = basePath;
      for (const part of parts) {
        if (typeof part === 'string') out += part;
        else if (part.param === '*') out += path.slice(routePath.length);
        else out += encodeURIComponent(params[part.param] ?? '');
      }
      return query === -1 ? out : out + url.slice(query);
    };
  }
  if (stripPrefix && isPrefix) {
    // Keep the prefix's last slash: /svc/a?x → /a?x, /svc/ → /.
    const cut = routePath.length - 1;
    return (url) => basePath + url.slice(cut);
  }
  return basePath === '' ? (url) => url : (url) => basePath + url;
}

type Part = string | { param: string };

function compileTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{([^{}]*)\}/g)) {
    if (match.index! > last) parts.push(template.slice(last, match.index));
    parts.push({ param: match[1]! });
    last = match.index! + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return parts;
}
