import type { IncomingMessage } from 'node:http';
import type { Forwarding } from '../http/forwarding.js';

// The headers a proxied request and its answer carry across the gateway.
// Hop-by-hop fields (RFC 9110, 7.6.1) describe one connection, so they are
// dropped both ways, with every field the Connection header names. Who the
// client was goes upstream in X-Forwarded-For/-Proto/-Host and Forwarded
// (RFC 7239): appended to what a trusted proxy in front of the gateway
// already said (server.trustProxy), and replacing whatever anyone else sent.

const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'];
const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'];

export interface RequestHeaderPlan {
  /** Lower-case names never forwarded (hop-by-hop, removed, replaced). */
  drop: ReadonlySet<string>;
  add: readonly [string, string][];
  preserveHost: boolean;
}

export function requestHeaderPlan(remove: readonly string[], add: readonly [string, string][], preserveHost: boolean): RequestHeaderPlan {
  // Expect is answered by the gateway's own server; x-request-id is the
  // gateway's; a request's trailer fields are not relayed (undici sends a
  // body without them), so announcing them with Trailer would be untrue.
  const drop = new Set([...HOP_BY_HOP, ...FORWARDED, 'host', 'expect', 'trailer', 'x-request-id', ...remove, ...add.map(([name]) => name)]);
  return { drop, add, preserveHost };
}

/** The upstream request's headers, as a flat name/value list. */
export function upstreamRequestHeaders(req: IncomingMessage, plan: RequestHeaderPlan, forwarding: Forwarding, requestId: string): string[] {
  const raw = req.rawHeaders;
  const named = connectionTokens(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (plan.drop.has(lower) || (named !== null && named.has(lower))) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  if (plan.preserveHost && req.headers.host !== undefined) out.push('host', req.headers.host);
  for (const [name, value] of plan.add) out.push(name, value);

  const peer = req.socket.remoteAddress ?? 'unknown';
  const trusted = peer !== 'unknown' && forwarding.isTrustedProxy(peer);
  const proto = forwarding.scheme(req);
  const host = forwarding.host(req);
  const priorFor = trusted ? joined(req.headers['x-forwarded-for']) : undefined;
  out.push('x-forwarded-for', priorFor ? `${priorFor}, ${peer}` : peer, 'x-forwarded-proto', proto);
  if (host !== undefined) out.push('x-forwarded-host', host);
  const element = `for=${forwardedNode(peer)};proto=${proto}${host !== undefined ? `;host="${host}"` : ''}`;
  const priorForwarded = trusted ? joined(req.headers.forwarded) : undefined;
  out.push('forwarded', priorForwarded ? `${priorForwarded}, ${element}` : element);
  out.push('x-request-id', requestId);
  return out;
}

/**
 * The upstream answer's headers for the client, as a flat list, from the raw
 * name/value pairs undici read: hop-by-hop fields dropped, and, when the
 * route has a CORS policy, the upstream's own Access-Control-* fields too
 * (the gateway's replace them). Trailer stays when `trailers` says the
 * client can get them after a chunked body (the fields it announces are
 * relayed then), and the answer has no Content-Length.
 */
export function clientResponseHeaders(raw: readonly Buffer[], ownCors: boolean, extra: readonly string[], vary: boolean, trailers: boolean): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  let upstreamVary: string | undefined;
  let sawTrailer = false;
  let hasLength = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'connection') {
      named = connectionTokens(value, named);
      continue;
    }
    if (name === 'trailer') {
      if (!trailers) continue;
      sawTrailer = true;
    } else if (name === 'content-length') hasLength = true;
    if (HOP_BY_HOP_SET.has(name) || name === 'x-request-id') continue;
    if (ownCors && name.startsWith('access-control-')) continue;
    if (vary && name === 'vary') {
      upstreamVary = upstreamVary === undefined ? value : `${upstreamVary}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  // Node refuses Trailer on an answer it will not send chunked.
  if (sawTrailer && hasLength) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (out[i] === 'trailer') out.splice(i, 2);
  }
  // Fields the Connection header named are hop-by-hop too; it may come after them.
  if (named !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!)) out.splice(i, 2);
  }
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  if (vary) out.push('vary', upstreamVary === undefined ? 'Origin' : /(^|,)\s*origin\s*(,|$)/i.test(upstreamVary) || upstreamVary.trim() === '*' ? upstreamVary : `${upstreamVary}, Origin`);
  return out;
}

const HOP_BY_HOP_SET = new Set(HOP_BY_HOP);

/** The field names a Connection header lists (besides close and keep-alive), added to `into`; null when none. */
function connectionTokens(header: string | string[] | undefined, into: Set<string> | null = null): Set<string> | null {
  if (header === undefined) return into;
  const text = Array.isArray(header) ? header.join(',') : header;
  let tokens = into;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') (tokens ??= new Set()).add(name);
  }
  return tokens;
}

function joined(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text.trim() === '' ? undefined : text;
}

/** RFC 7239 node: IPv6 addresses are bracketed and quoted. */
function forwardedNode(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return address.includes(':') ? `"[${address}]"` : address;
}
