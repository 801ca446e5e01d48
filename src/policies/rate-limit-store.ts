import cluster from 'node:cluster';
import { Redis } from 'ioredis';
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from 'pino';

// Where rate budgets are counted. One limiter per budget (route × policy),
// kept for the life of the process, so a reload that leaves a route's limit
// as it was keeps its counts, and nothing is rebuilt per request.
//   memory: a process's own counts; under `serve --workers` the counts live
//           in the cluster primary and workers ask it over IPC, so N workers
//           share one budget instead of having N.
//   redis:  counts in Redis (an atomic INCR + PEXPIRE script), so every
//           instance on that Redis shares one budget.

export interface Budget {
  /** Counted in this process's memory: answers at once, so nothing needs a timer. */
  readonly local: boolean;
  /** Settles with the count after this request, or rejects with a store failure. */
  consume(key: string): Promise<{ remaining: number; msBeforeNext: number; allowed: boolean }>;
}

export interface BudgetSpec {
  /** Unique per budget and equal across workers and instances. */
  prefix: string;
  requests: number;
  windowSec: number;
  store: string | null;
  timeoutMs: number;
}

const limiters = new Map<string, RateLimiterAbstract>();
const clients = new Map<string, Redis>();

/** The limiter for `spec`, created once per process. */
export function budgetFor(spec: BudgetSpec): Budget {
  const id = `${spec.store ?? 'memory'} ${spec.prefix}`;
  let limiter = limiters.get(id);
  if (!limiter) limiters.set(id, (limiter = createLimiter(spec)));
  const bound = limiter;
  return {
    local: limiter instanceof RateLimiterMemory,
    consume: (key) =>
      bound.consume(key).then(
        (res) => ({ remaining: res.remainingPoints, msBeforeNext: res.msBeforeNext, allowed: true }),
        (res: unknown) => {
          // Over the limit is a result (RateLimiterRes); a store failure is an Error.
          if (res instanceof Error || typeof res !== 'object' || res === null || !('msBeforeNext' in res)) throw res;
          const over = res as { msBeforeNext: number; remainingPoints: number };
          return { remaining: 0, msBeforeNext: over.msBeforeNext, allowed: false };
        },
      ),
  };
}

function createLimiter(spec: BudgetSpec): RateLimiterAbstract {
  const options = { keyPrefix: spec.prefix, points: spec.requests, duration: spec.windowSec };
  if (spec.store !== null) return new RateLimiterRedis({ ...options, storeClient: redisClient(spec.store, spec.timeoutMs) });
  if (cluster.isWorker) return new RateLimiterCluster({ ...options, timeoutMs: Math.max(spec.timeoutMs, 2_000) });
  return new RateLimiterMemory(options);
}

function redisClient(url: string, timeoutMs: number): Redis {
  let client = clients.get(url);
  if (!client) {
    client = new Redis(url, {
      // A request waits for Redis at most timeoutMs (see RateLimit); commands
      // issued while the connection is down fail after one reconnect attempt
      // instead of piling up for the whole outage.
      maxRetriesPerRequest: 1,
      commandTimeout: Math.max(timeoutMs, 50),
      connectTimeout: Math.max(timeoutMs * 5, 1000),
      retryStrategy: (times) => Math.min(100 * 2 ** times, 2000),
    });
    // Failures are reported per request (once per outage); ioredis would
    // otherwise print every reconnect error itself.
    client.on('error', () => {});
    clients.set(url, client);
  }
  return client;
}

/** Closes the Redis connections (at shutdown). */
export async function closeRateLimitStores(): Promise<void> {
  const open = [...clients.values()];
  clients.clear();
  for (const [id] of limiters) if (!id.startsWith('memory ')) limiters.delete(id);
  // QUIT waits for Redis; a Redis that is down must not hold the shutdown up.
  await Promise.all(
    open.map((client) =>
      Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 500).unref())]).finally(() => client.disconnect()),
    ),
  );
}

/** In the cluster primary of `serve --workers`: holds the memory budgets every worker shares. */
export function holdWorkerBudgets(): void {
  new RateLimiterClusterMaster();
}

const outageLogs = new Map<string, OutageLog>();

/** The one outage log of a store, shared by every route that counts there. */
export function outageLogFor(logger: Logger, store: string, onError: 'allow' | 'deny'): OutageLog {
  let log = outageLogs.get(store);
  if (!log) outageLogs.set(store, (log = new OutageLog(logger, store, onError)));
  return log;
}

/** Logs a store outage once when it starts and once when it ends, never per request. */
class OutageLog {
  private down = false;

  constructor(
    private readonly logger: Logger,
    private readonly store: string,
    private readonly onError: 'allow' | 'deny',
  ) {}

  failed(error: unknown): void {
    if (this.down) return;
    this.down = true;
    this.logger.error({ store: redact(this.store), err: (error as Error)?.message }, `rate limit store unreachable; requests are ${this.onError === 'allow' ? 'let through' : 'refused with 503'} until it is back`);
  }

  succeeded(): void {
    if (!this.down) return;
    this.down = false;
    this.logger.info({ store: redact(this.store) }, 'rate limit store reachable again');
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
