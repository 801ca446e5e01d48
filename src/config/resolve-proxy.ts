// A route's `proxy:` block, resolved: upstream URLs normalised, durations in
// milliseconds, header names lower-cased, defaults applied.
import ms from 'ms';
import type { RawProxy } from './raw.js';
import type { ProxyConfig } from './types.js';

const PROXY_DEFAULTS = { retries: 0, ejectAfter: 3, cooldownMs: 10_000 } as const;

export function resolveProxy(raw: RawProxy, bodyLimit: number | null, routeTimeoutMs: number): ProxyConfig {
  return {
    upstreams: [raw.upstream].flat().map((url) => url.replace(/\/+$/, '')),
    stripPrefix: raw.stripPrefix ?? false,
    rewrite: raw.rewrite ?? null,
    addHeaders: Object.entries(raw.headers?.add ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    removeHeaders: (raw.headers?.remove ?? []).map((name) => name.toLowerCase()),
    preserveHost: raw.preserveHost ?? false,
    timeoutMs: duration(raw.timeout, routeTimeoutMs),
    retries: raw.retries ?? PROXY_DEFAULTS.retries,
    ejectAfter: raw.ejectAfter ?? PROXY_DEFAULTS.ejectAfter,
    cooldownMs: duration(raw.cooldown, PROXY_DEFAULTS.cooldownMs),
    bodyLimit,
    websocket: raw.websocket ?? false,
  };
}

function duration(value: number | string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  return Math.round(ms(value as ms.StringValue)) || fallback;
}
