import type { IncomingMessage } from 'node:http';
import type { Forwarding } from '../http/forwarding.js';

// The headers a proxied request and its answer carry across the gateway.
// Hop-by-hop fields (RFC 9110, 7.6.1) describe one connection, so they are
// dropped both ways, with every field the Connection header names. Who the
// client was goes upstream in X-Forwarded-For/-Proto/-Host and Forwarded
// (RFC 7239): appended to what a trusted proxy in front of the gateway
// already said (server.trustProxy), and replacing whatever anyone else sent.

const HOP_BY_HOP = ['connection', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'proxy-authorization'];
const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'];

export interface RequestHeaderPlan {
  /** Lower-case names never forwarded (hop-by-hop, removed, replaced). */
  drop: ReadonlySet<string>;
  add: readonly [string, string][];
  preserveHost: boolean;
}

export function requestHeaderPlan(remove: readonly string[], add: readonly [string, string][], preserveHost: boolean): RequestHeaderPlan {
  // Expect is answered by the gateway's own server; x-request-id is the gateway's.
  const drop = new Set([...HOP_BY_HOP, ...FORWARDED, 'host', 'expect', 'x-request-id', ...remove, ...add.map(([name]) => name)]);
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
 * The upstream answer's headers for the client, as a flat list: hop-by-hop
 * fields dropped, and, when the route has a CORS policy, the upstream's own
 * Access-Control-* fields too (the gateway's replace them).
 */
export function clientResponseHeaders(upstream: Record<string, string | string[] | undefined>, ownCors: boolean, extra: readonly string[], vary: boolean): string[] {
  const named = connectionTokens(upstream.connection);
  const out: string[] = [];
  let upstreamVary: string | undefined;
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP_SET.has(name) || name === 'x-request-id' || (named !== null && named.has(name))) continue;
    if (ownCors && name.startsWith('access-control-')) continue;
    if (vary && name === 'vary') {
      upstreamVary = Array.isArray(value) ? value.join(', ') : value;
      continue;
    }
    if (Array.isArray(value)) for (const one of value) out.push(name, one);
    else out.push(name, value);
  }
  out.push(...extra);
  if (vary) out.push('vary', upstreamVary === undefined ? 'Origin' : /(^|,)\s*origin\s*(,|$)/i.test(upstreamVary) || upstreamVary.trim() === '*' ? upstreamVary : `${upstreamVary}, Origin`);
  return out;
}

const HOP_BY_HOP_SET = new Set(HOP_BY_HOP);

function connectionTokens(header: string | string[] | undefined): Set<string> | null {
  if (header === undefined) return null;
  const text = Array.isArray(header) ? header.join(',') : header;
  const tokens = new Set<string>();
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') tokens.add(name);
  }
  return tokens.size === 0 ? null : tokens;
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
