// What an entry of `cors.origins` may be. Browsers send `Origin` as
// scheme://host[:port], lowercase, without a default port, path or slash, so
// any other spelling can never match and is reported instead of silently
// refusing every request.

export interface OriginProblem {
  reason: string;
  hint?: string;
}

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443' };
const LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Undefined for `*`, `https://app.example.com`, `http://localhost:5173`,
 * `https://*.example.com`; a reason (and usually the fix) otherwise.
 */
export function checkOrigin(origin: string): OriginProblem | undefined {
  if (origin === '*') return undefined;
  if (origin === 'null') {
    return { reason: "'null' is what sandboxed iframes and file: pages send; allowing it lets any of them in", hint: 'list the real origins' };
  }
  const schemeEnd = origin.indexOf('://');
  if (schemeEnd < 0) return { reason: 'it has no scheme', hint: `write 'https://${origin.replace(/\/+$/, '')}'` };
  const scheme = origin.slice(0, schemeEnd);
  if (scheme !== 'http' && scheme !== 'https') {
    const lower = scheme.toLowerCase();
    return lower === 'http' || lower === 'https'
      ? { reason: 'the scheme must be lowercase', hint: `write '${lower}${origin.slice(schemeEnd)}'` }
      : { reason: `the scheme must be http or https, not '${scheme}'` };
  }
  const rest = origin.slice(schemeEnd + 3);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const bare = `${scheme}://${authority}`;
  if (authority.includes('@')) {
    return { reason: 'an origin has no user info', hint: `write '${scheme}://${authority.slice(authority.lastIndexOf('@') + 1)}'` };
  }
  if (tail === '/') return { reason: 'it ends with /', hint: `remove the trailing /: '${bare}'` };
  if (tail.startsWith('/')) return { reason: 'an origin has no path', hint: `write '${bare}'` };
  if (tail.startsWith('?')) return { reason: 'an origin has no query string', hint: `write '${bare}'` };
  if (tail.startsWith('#')) return { reason: 'an origin has no fragment', hint: `write '${bare}'` };

  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:]*)(?::(.*))?$/.exec(authority);
  const host = hostPort?.[1] ?? '';
  const port = hostPort?.[2];
  if (port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) return { reason: `'${port}' is not a port` };
    if (DEFAULT_PORTS[scheme] === port) {
      return { reason: `browsers leave the default port :${port} out of Origin`, hint: `write '${scheme}://${host}'` };
    }
  }
  if (host.startsWith('[')) return undefined;
  if (host === '') return { reason: 'it has no host' };
  if (/[^\x00-\x7f]/.test(host)) return { reason: 'browsers send international hosts in punycode (xn--...)', hint: 'write the host in its punycode form' };
  if (host !== host.toLowerCase()) {
    return { reason: 'browsers send the host in lowercase', hint: `write '${origin.replace(host, host.toLowerCase())}'` };
  }
  const labels = host.startsWith('*.') ? host.slice(2).split('.') : host.split('.');
  if (labels.some((l) => l.includes('*'))) {
    return { reason: 'a wildcard must be the whole first label', hint: 'write it like https://*.example.com' };
  }
  if (!labels.every((l) => LABEL.test(l))) return { reason: `'${host}' is not a valid host name` };
  return undefined;
}
