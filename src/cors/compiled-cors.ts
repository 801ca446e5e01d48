import type { CorsPolicy } from '../config/types.js';

// A route's CORS policy, compiled once when the config loads: origin checks
// are a Set lookup plus precompiled subdomain patterns, and every header
// value is joined ahead of time. Per request the gateway only decides whether
// the Origin is allowed and copies prepared header pairs.

export class CompiledCors {
  private readonly exact: ReadonlySet<string>;
  private readonly patterns: readonly RegExp[];
  private readonly any: boolean;
  /** Headers every allowed actual response carries besides the origin. */
  private readonly actualRest: readonly string[];
  private readonly preflightRest: readonly string[];

  constructor(readonly policy: CorsPolicy) {
    const exact = new Set<string>();
    const patterns: RegExp[] = [];
    let any = false;
    for (const origin of policy.origins) {
      if (origin === '*') any = true;
      else if (origin.includes('://*.')) patterns.push(subdomainPattern(origin));
      else exact.add(origin.toLowerCase());
    }
    this.exact = exact;
    this.patterns = patterns;
    this.any = any;

    const actual: string[] = [];
    if (policy.credentials) actual.push('access-control-allow-credentials', 'true');
    if (policy.exposeHeaders.length > 0) actual.push('access-control-expose-headers', policy.exposeHeaders.join(', '));
    this.actualRest = actual;

    const preflight: string[] = [];
    if (policy.credentials) preflight.push('access-control-allow-credentials', 'true');
    if (policy.allowHeaders.length > 0) preflight.push('access-control-allow-headers', policy.allowHeaders.join(', '));
    preflight.push('access-control-max-age', String(policy.maxAge));
    this.preflightRest = preflight;
  }

  /** Whether a request from `origin` may read responses. */
  allows(origin: string): boolean {
    if (this.any) return true;
    if (this.exact.has(origin)) return true;
    const lower = origin.toLowerCase();
    if (lower !== origin && this.exact.has(lower)) return true;
    for (const pattern of this.patterns) if (pattern.test(lower)) return true;
    return false;
  }

  /** The Access-Control-Allow-Origin value for an allowed origin. */
  private allowOrigin(origin: string): string {
    // A literal "*" is only correct when the response is the same for every
    // origin and carries no credentials.
    return this.any && !this.policy.credentials ? '*' : origin;
  }

  /** Flat header pairs for an actual (non-preflight) response to an allowed origin. */
  actualHeaders(origin: string): string[] {
    return ['access-control-allow-origin', this.allowOrigin(origin), ...this.actualRest];
  }

  /** Flat header pairs for a preflight answer; `allowMethods` is pre-joined. */
  preflightHeaders(origin: string, allowMethods: string): string[] {
    return ['access-control-allow-origin', this.allowOrigin(origin), 'access-control-allow-methods', allowMethods, ...this.preflightRest];
  }
}

/** `https://*.example.com[:port]` → any subdomain (at any depth) of example.com, not the apex. */
function subdomainPattern(origin: string): RegExp {
  const [scheme, rest] = origin.toLowerCase().split('://*.') as [string, string];
  const escaped = rest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${scheme}://(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+${escaped}$`);
}
