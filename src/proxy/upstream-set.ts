import type { Pool } from 'undici';
import { poolFor } from './upstream-pool.js';

// A route's upstreams, taken in turn (round robin). One that refuses a
// connection is taken out of the rotation at once, one that fails
// `ejectAfter` times in a row (broken connections, timeouts) too, each for
// `cooldownMs`; then it gets traffic again, and the first success clears
// its record. With every upstream out, the one due back first is tried
// anyway: the request fails fast if it is still down, and traffic resumes
// as soon as it is back.

export interface Upstream {
  /** The URL as configured, for messages and logs. */
  url: string;
  /** The path the upstream URL names ('' or '/base'), put before the forwarded path. */
  basePath: string;
  pool: Pool;
  failures: number;
  ejectedUntil: number;
}

export type FailureKind = 'refused' | 'broken' | 'timeout';

export class UpstreamSet {
  readonly upstreams: Upstream[];
  private next = 0;

  constructor(
    urls: readonly string[],
    private readonly ejectAfter: number,
    private readonly cooldownMs: number,
  ) {
    this.upstreams = urls.map((url) => {
      const parsed = new URL(url);
      return { url, basePath: parsed.pathname === '/' ? '' : parsed.pathname.replace(/\/+$/, ''), pool: poolFor(parsed.origin), failures: 0, ejectedUntil: 0 };
    });
  }

  /** The next upstream in turn that is in rotation and not in `tried`; null when every one was tried. */
  pick(tried: ReadonlySet<Upstream> | null): Upstream | null {
    const all = this.upstreams;
    if (all.length === 1) return tried?.has(all[0]!) ? null : all[0]!;
    const now = Date.now();
    let fallback: Upstream | null = null;
    for (let i = 0; i < all.length; i++) {
      const upstream = all[(this.next + i) % all.length]!;
      if (tried?.has(upstream)) continue;
      if (upstream.ejectedUntil <= now) {
        this.next = (this.next + i + 1) % all.length;
        return upstream;
      }
      if (fallback === null || upstream.ejectedUntil < fallback.ejectedUntil) fallback = upstream;
    }
    return fallback;
  }

  succeeded(upstream: Upstream): void {
    if (upstream.failures !== 0 || upstream.ejectedUntil !== 0) {
      upstream.failures = 0;
      upstream.ejectedUntil = 0;
    }
  }

  failed(upstream: Upstream, kind: FailureKind): void {
    upstream.failures += 1;
    if (kind === 'refused' || upstream.failures >= this.ejectAfter) upstream.ejectedUntil = Date.now() + this.cooldownMs;
  }
}
