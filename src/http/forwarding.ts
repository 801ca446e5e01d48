import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import { isValidHost } from './request-target.js';

// Who is on the other end of a request: its scheme, host and address. Behind
// a proxy the socket says "the proxy"; the proxy says who the client was in
// X-Forwarded-For/-Proto/-Host or Forwarded (RFC 7239). Those headers are
// believed only from proxies server.trustProxy names, since any client can
// send them: off (the default), scheme and address are the socket's and the
// host is Host.
//
// The address is found as proxy-addr (what Express uses) finds it: walk the
// hops from the socket back towards the client, and stop at the first one
// that is not trusted; proxy-addr also matches addresses against CIDRs. The
// scheme and host come from the client-most value, and only when the socket's
// peer is itself trusted. Compiled once per configuration.

export interface Forwarding {
  /** http or https. */
  scheme(req: IncomingMessage): string;
  /** host[:port]; undefined when the request names none. */
  host(req: IncomingMessage): string | undefined;
  /** The client's address, for the request log (and anything keyed by client). */
  client(req: IncomingMessage): string | undefined;
  /** Whether connections from `address` come from a trusted proxy. */
  isTrustedProxy(address: string): boolean;
}

export type TrustProxy = boolean | number | readonly string[];

/** Off: nothing but the socket and Host, no header read. */
const DIRECT: Forwarding = {
  scheme: socketScheme,
  host: (req) => req.headers.host,
  client: (req) => req.socket.remoteAddress,
  isTrustedProxy: () => false,
};

export function forwardingFor(trust: TrustProxy): Forwarding {
  if (trust === false || trust === 0) return DIRECT;
  const trusts: (address: string, hop: number) => boolean =
    trust === true ? () => true : typeof trust === 'number' ? (_address, hop) => hop < trust : proxyaddr.compile([...trust]);
  const fromTrustedPeer = (req: IncomingMessage) => {
    const peer = req.socket.remoteAddress;
    return peer !== undefined && trusts(peer, 0);
  };
  return {
    scheme(req) {
      if (fromTrustedPeer(req)) {
        const proto = firstValue(req.headers['x-forwarded-proto']) ?? forwardedParameter(req, 'proto');
        const lower = proto?.toLowerCase();
        if (lower === 'http' || lower === 'https') return lower;
      }
      return socketScheme(req);
    },
    host(req) {
      if (fromTrustedPeer(req)) {
        const host = firstValue(req.headers['x-forwarded-host']) ?? forwardedParameter(req, 'host');
        if (host && isValidHost(host)) return host;
      }
      return req.headers.host;
    },
    client(req) {
      const peer = req.socket.remoteAddress;
      if (peer === undefined) return undefined;
      const hops = forwardedFor(req);
      // hops[0] is the socket's peer; each later one is the address the one
      // before it says it received the request from.
      let client = peer;
      for (let i = 0; i < hops.length; i++) {
        if (!trusts(i === 0 ? peer : hops[i - 1]!, i)) break;
        client = hops[i]!;
      }
      return client;
    },
    isTrustedProxy: (address) => trusts(address, 0),
  };
}

function socketScheme(req: IncomingMessage): string {
  return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const first = value.split(',')[0]!.trim();
  return first === '' ? undefined : first;
}

/**
 * The addresses the proxies reported, nearest first: X-Forwarded-For read
 * right to left, else the `for=` of each Forwarded element. Unknown or
 * obfuscated identifiers (RFC 7239, 6) end the list: nothing behind them can
 * be placed.
 */
function forwardedFor(req: IncomingMessage): string[] {
  const xff = req.headers['x-forwarded-for'];
  const list = typeof xff === 'string' ? xff.split(',') : forwardedElements(req).map((element) => element.get('for') ?? '');
  const hops: string[] = [];
  for (let i = list.length - 1; i >= 0; i--) {
    const address = nodeAddress(list[i]!.trim());
    if (address === null) break;
    hops.push(address);
  }
  return hops;
}

/** `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1` → the bare address; null for anything else. */
function nodeAddress(value: string): string | null {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::\d+)?$/.exec(value);
  if (bracketed) return bracketed[1]!;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(value);
  if (v4) return v4[1]!;
  if (/^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$/.test(value)) return value;
  return null;
}

function forwardedParameter(req: IncomingMessage, name: string): string | undefined {
  return forwardedElements(req)[0]?.get(name);
}

/** Forwarded: for=1.2.3.4;proto=https, for="[::1]:80" → one map per element, client-most first. */
function forwardedElements(req: IncomingMessage): Map<string, string>[] {
  const header = req.headers.forwarded;
  if (typeof header !== 'string') return [];
  return header.split(',').map((element) => {
    const pairs = new Map<string, string>();
    for (const pair of element.split(';')) {
      const equals = pair.indexOf('=');
      if (equals === -1) continue;
      const value = pair.slice(equals + 1).trim();
      pairs.set(pair.slice(0, equals).trim().toLowerCase(), value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value);
    }
    return pairs;
  });
}
