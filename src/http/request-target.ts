import type { IncomingMessage } from 'node:http';

// What the request line and Host say about where a request goes, checked
// once before dispatch. Routes, mounts, the request log and `request.url`
// all read `req.url` as a path and `Host` as host[:port]; the rare other
// forms cost ordinary requests one character test and one short regex.
//
// HTTP/1.1 servers must accept the absolute form (`GET http://host/path`,
// what proxies send) and take the host from it rather than from Host
// (RFC 9112, 3.2.2). Anything else (`*`, `foo`) cannot name a route.

const ABSOLUTE_FORM = /^https?:\/\/([^/?#\s]+)/i;

/**
 * Rewrites an absolute-form target to its path and its authority to Host.
 * Returns false when the target is neither a path nor absolute-form.
 */
export function toOriginForm(req: IncomingMessage): boolean {
  const url = req.url!;
  const match = ABSOLUTE_FORM.exec(url);
  if (match === null) return false;
  const rest = url.slice(match[0].length);
  req.url = rest.charCodeAt(0) === SLASH ? rest : `/${rest}`;
  req.headers.host = match[1]!;
  return true;
}

/** Whether a path that matched no route is malformed (bad percent-encoding), rather than unknown. */
export function isMalformedPath(url: string): boolean {
  const query = url.indexOf('?');
  try {
    // The query string is the handler's business, as it is the router's.
    decodeURI(query === -1 ? url : url.slice(0, query));
    return false;
  } catch {
    return true;
  }
}

/**
 * Whether a Host value is `host[:port]` (a name, IPv4 or [IPv6]) or empty
 * (allowed by RFC 9110, 7.2). request.url is built from it, so anything
 * else (spaces, slashes, `@`, `%`) would give handlers a URL that does not
 * parse or points elsewhere; RFC 9112 (3.2) has the server answer 400.
 */
export function isValidHost(host: string): boolean {
  return HOST.test(host);
}

// The characters a WHATWG URL accepts in an http host, which are what
// browsers send.
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]*)(?::[0-9]*)?$/;

export const SLASH = 47;
