import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RateLimitPolicy } from '../config/policies.js';
import { GatewayError } from '../http/errors.js';
import { budgetFor, outageLogFor, type Budget } from './rate-limit-store.js';
import { activeMetrics } from '../metrics/metrics.js';

// `rateLimit:` on one route (or /api): a fixed window of `requests` per
// `per`, counted per key. Compiled once; `admit` is the per-request part.
// Every answer of a limited route carries the draft-ietf-httpapi-ratelimit-
// headers fields, e.g.
//   RateLimit-Policy: "default";q=100;w=60
//   RateLimit: "default";r=42;t=17
// and a refused one is 429 with Retry-After, before auth and the handler.

/** What the request is keyed by, from the parts the gateway already has. */
export interface KeySources {
  /** The client address as server.trustProxy decides it. */
  client(req: IncomingMessage): string | undefined;
  /** The caller's tokenIdentifier; null without a (valid) token. */
  identity(req: IncomingMessage): Promise<string | null>;
}

const MEMORY_TIMEOUT_MS = 2_000;

export class RateLimit {
  /** RateLimit-Policy, the same on every answer. */
  private readonly policyHeader: string;
  private readonly budget: Budget;
  private readonly outage: { failed(error: unknown): void; succeeded(): void } | null;
  /** How long to wait for the store; 0 for this process's memory, which cannot keep a request waiting. */
  private readonly timeoutMs: number;

  constructor(
    readonly policy: RateLimitPolicy,
    /** Which budget: the route's methods and pattern, or the /api prefix. */
    scope: string,
    private readonly sources: KeySources,
    logger: Logger,
  ) {
    const windowSec = Math.max(1, Math.round(policy.windowMs / 1000));
    this.policyHeader = `"${policy.name}";q=${policy.requests};w=${windowSec}`;
    // The prefix names the limit too: a reload that changes it starts a new count.
    const prefix = `portico:rl:${scope}:${policy.requests}/${windowSec}`;
    this.budget = budgetFor({ prefix, requests: policy.requests, windowSec, store: policy.store, timeoutMs: policy.timeoutMs });
    this.outage = policy.store === null ? null : outageLogFor(logger, policy.store, policy.onStoreError);
    // rateLimit.timeout bounds the wait for Redis; the memory store answers
    // at once, or over IPC from the cluster primary, which a busy machine
    // may slow past 200 ms without anything being wrong.
    this.timeoutMs = this.budget.local ? 0 : policy.store === null ? Math.max(policy.timeoutMs, MEMORY_TIMEOUT_MS) : policy.timeoutMs;
  }

  /**
   * Counts the request. Resolves with null when it may go on (the
   * RateLimit fields pushed onto `headers`), or with the error to answer:
   * 429, or 503 when the store is down and onStoreError is deny.
   */
  async admit(req: IncomingMessage, params: Record<string, string>, headers: string[]): Promise<GatewayError | null> {
    const key = this.policy.key.kind === 'identity' ? await this.identityKey(req) : this.keyOf(req, params);
    let result: Awaited<ReturnType<Budget['consume']>>;
    try {
      const counted = this.budget.consume(key);
      // A timer per request is measurable on a hot route: only where the store may be slow.
      result = await (this.timeoutMs === 0 ? counted : withTimeout(counted, this.timeoutMs));
      this.outage?.succeeded();
    } catch (error) {
      this.outage?.failed(error);
      activeMetrics()?.rateLimitStoreError(this.policy.onStoreError === 'allow');
      if (this.policy.onStoreError === 'allow') return null;
      return new GatewayError('RateLimitUnavailable');
    }
    const reset = Math.max(1, Math.ceil(result.msBeforeNext / 1000));
    const fields = ['ratelimit-policy', this.policyHeader, 'ratelimit', `"${this.policy.name}";r=${result.remaining};t=${reset}`];
    if (result.allowed) {
      headers.push(...fields);
      return null;
    }
    return new GatewayError('TooManyRequests', `Too many requests: this route allows ${this.policy.requests} per ${describeWindow(this.policy.windowMs)}; try again in ${reset} s`).withHeaders([
      ['retry-after', String(reset)],
      ['ratelimit-policy', this.policyHeader],
      ['ratelimit', fields[3]!],
    ]);
  }

  private async identityKey(req: IncomingMessage): Promise<string> {
    // A missing or invalid token is keyed by address; auth answers it later.
    const id = await this.sources.identity(req).catch(() => null);
    return id !== null ? `id:${id}` : this.addressKey(req);
  }

  private keyOf(req: IncomingMessage, params: Record<string, string>): string {
    const key = this.policy.key;
    switch (key.kind) {
      case 'header': {
        const value = req.headers[key.name];
        if (typeof value === 'string' && value !== '') return `h:${value}`;
        break;
      }
      case 'param': {
        const value = params[key.name];
        if (value !== undefined) return `p:${value}`;
        break;
      }
    }
    return this.addressKey(req);
  }

  private addressKey(req: IncomingMessage): string {
    return `ip:${this.sources.client(req) ?? req.socket.remoteAddress ?? 'unknown'}`;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer from the rate limit store within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function describeWindow(ms: number): string {
  const s = ms / 1000;
  if (s % 3600 === 0) return s === 3600 ? 'hour' : `${s / 3600} hours`;
  if (s % 60 === 0) return s === 60 ? 'minute' : `${s / 60} minutes`;
  return s === 1 ? 'second' : `${s} seconds`;
}
