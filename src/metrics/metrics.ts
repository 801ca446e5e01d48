import client from 'prom-client';
import { answerGather } from './cluster-gather.js';
import { CounterFamily, HistogramFamily, type CounterSeries, type HistogramSeries } from './series.js';

// The process's Prometheus metrics (prom-client). Created on first use, so a
// config with `metrics: false` registers nothing and pays nothing. Labels are
// bounded sets: route patterns (never raw paths), function names that exist,
// methods Node's parser accepts, status codes.
//
// The request path calls `request()` once per request: two map lookups and
// a few additions on numbers (series.ts); prom-client reads them when it is
// scraped.

/** Seconds: from a cached answer to a slow function. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One process's metrics as prom-client JSON: what crosses between workers. */
export type MetricsJson = client.MetricObjectWithValues<client.MetricValue<string>>[];

export type CallOutcome = 'success' | 'error' | 'unavailable';

/** Everything one (route, method) pair counts, found with two map lookups per request. */
export interface RouteEntry {
  byStatus: Map<number, CounterSeries>;
  duration: HistogramSeries;
  requestBytes: CounterSeries;
  responseBytes: CounterSeries;
  /** The key of this pair in the dashboard's charts ("GET /users/:id"). */
  chartKey: string;
}

export class PorticoMetrics {
  readonly registry = new client.Registry();
  private readonly requests = this.family(new CounterFamily('portico_http_requests_total', 'HTTP requests answered, by route pattern, method and status.'));
  private readonly durations = this.family(new HistogramFamily('portico_http_request_duration_seconds', 'Time from the request to its answer, by route pattern and method.', DURATION_BUCKETS));
  private readonly requestBytes = this.family(new CounterFamily('portico_http_request_bytes_total', 'Bytes read from the connection for requests (head and body), by route pattern.'));
  private readonly responseBytes = this.family(new CounterFamily('portico_http_response_bytes_total', 'Bytes written to the connection for answers (head and body), by route pattern.'));
  private readonly calls = this.family(new CounterFamily('portico_function_calls_total', 'Query, mutation and action calls, by function, kind and outcome.'));
  private readonly callDurations = this.family(new HistogramFamily('portico_function_duration_seconds', 'Time a function call took, by function and kind.', DURATION_BUCKETS));
  private readonly conflicts = new client.Counter({ name: 'portico_transaction_conflicts_total', help: 'Mutations that met a serialization conflict.', registers: [this.registry] });
  private readonly retries = new client.Counter({ name: 'portico_transaction_retries_total', help: 'Mutation attempts re-run after a conflict.', registers: [this.registry] });
  private readonly rateLimitStoreErrors = new client.Counter({ name: 'portico_rate_limit_store_errors_total', help: 'Requests whose rate limit store (Redis) could not be reached in time, by what happened to them (allowed, denied).', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly cacheHits = new client.Counter({ name: 'portico_query_cache_hits_total', help: 'Query calls answered from the query cache.', registers: [this.registry] });
  private readonly cacheMisses = new client.Counter({ name: 'portico_query_cache_misses_total', help: 'Query calls the query cache could not answer (they ran).', registers: [this.registry] });
  private readonly cacheInvalidations = new client.Counter({ name: 'portico_query_cache_invalidations_total', help: 'Cached query results dropped because a committed write could change them.', registers: [this.registry] });
  private readonly reloads = new client.Counter({ name: 'portico_reloads_total', help: 'Config and code reloads, by outcome (ok, refused).', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly routes = new Map<string, Map<string, RouteEntry>>();
  private readonly functions = new Map<string, { ok: CounterSeries; failed: CounterSeries; unavailable: CounterSeries; duration: HistogramSeries }>();
  private inFlightSources: (() => number)[] = [];

  constructor() {
    const sources = () => this.inFlightSources;
    new client.Gauge({
      name: 'portico_http_requests_in_flight',
      help: 'Requests being handled now.',
      registers: [this.registry],
      collect() {
        this.set(sources().reduce((sum, count) => sum + count(), 0));
      },
    });
    client.collectDefaultMetrics({ register: this.registry });
    this.reloads.inc({ outcome: 'ok' }, 0);
    this.reloads.inc({ outcome: 'refused' }, 0);
  }

  private family<F extends CounterFamily | HistogramFamily>(family: F): F {
    this.registry.registerMetric(family as unknown as client.Metric);
    return family;
  }

  /** One answered request; `route` must come from a bounded set (see routeLabel). */
  request(route: string, method: string, status: number, seconds: number, requestBytes: number, responseBytes: number): RouteEntry {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) this.routes.set(route, (byMethod = new Map()));
    let entry = byMethod.get(method);
    if (entry === undefined) {
      entry = {
        byStatus: new Map(),
        duration: this.durations.at({ route, method }),
        requestBytes: this.requestBytes.at({ route }),
        responseBytes: this.responseBytes.at({ route }),
        chartKey: `${method} ${route}`,
      };
      byMethod.set(method, entry);
    }
    let counter = entry.byStatus.get(status);
    if (counter === undefined) entry.byStatus.set(status, (counter = this.requests.at({ route, method, status: String(status) })));
    counter.value += 1;
    this.durations.observe(entry.duration, seconds);
    entry.requestBytes.value += requestBytes;
    entry.responseBytes.value += responseBytes;
    return entry;
  }

  functionCall(name: string, kind: string, outcome: CallOutcome, seconds: number): void {
    const key = `${kind}:${name}`;
    let fn = this.functions.get(key);
    if (fn === undefined) {
      const labels = (outcome: string) => ({ function: name, kind, outcome });
      fn = { ok: this.calls.at(labels('success')), failed: this.calls.at(labels('error')), unavailable: this.calls.at(labels('unavailable')), duration: this.callDurations.at({ function: name, kind }) };
      this.functions.set(key, fn);
    }
    (outcome === 'success' ? fn.ok : outcome === 'error' ? fn.failed : fn.unavailable).value += 1;
    this.callDurations.observe(fn.duration, seconds);
  }

  conflict(retried: boolean): void {
    this.conflicts.inc();
    if (retried) this.retries.inc();
  }

  queryCacheHit(): void {
    this.cacheHits.inc();
  }

  queryCacheMiss(): void {
    this.cacheMisses.inc();
  }

  queryCacheInvalidated(entries: number): void {
    this.cacheInvalidations.inc(entries);
  }

  /** A request the rate limit store failed: let through (onStoreError: allow) or refused. */
  rateLimitStoreError(allowed: boolean): void {
    this.rateLimitStoreErrors.labels(allowed ? 'allowed' : 'denied').inc();
  }

  reload(ok: boolean): void {
    this.reloads.labels(ok ? 'ok' : 'refused').inc();
  }

  /** Adds a count of requests in flight (an HTTP host's). */
  countInFlight(source: () => number): void {
    this.inFlightSources.push(source);
  }

  /** This process's metrics as prom-client JSON, for aggregation across workers. */
  json(): Promise<MetricsJson> {
    return this.registry.getMetricsAsJSON();
  }
}

let instance: PorticoMetrics | null = null;

/** The process's metrics, created on first call. */
export function processMetrics(): PorticoMetrics {
  if (instance === null) {
    const metrics = (instance = new PorticoMetrics());
    answerGather('metrics', () => metrics.json());
  }
  return instance;
}

/** The process's metrics if anything turned them on, else null: for hooks that only record. */
export function activeMetrics(): PorticoMetrics | null {
  return instance;
}

/** Text of several processes' metrics (one JSON per process) summed into one exposition. */
export async function exposition(parts: MetricsJson[]): Promise<string> {
  return client.AggregatorRegistry.aggregate(parts).metrics();
}

export const CONTENT_TYPE = client.register.contentType;

/**
 * The label for a request's route: the pattern a route matched, `(none)` when
 * none did, and for the gateway's own mounts (the function API, /_portico/)
 * the mount's prefix with `*`, except the few fixed operational endpoints.
 */
export function routeLabel(url: string, route: string | null, mountPrefixes: readonly string[]): string {
  if (route === null) return '(none)';
  for (const prefix of mountPrefixes) {
    if (url.startsWith(prefix)) return FIXED_ENDPOINTS.has(route) ? route : `${prefix}*`;
  }
  return route;
}

const FIXED_ENDPOINTS = new Set(['/_portico/health', '/_portico/metrics']);
