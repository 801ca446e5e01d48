import client from 'prom-client';
import { answerGather } from './cluster-gather.js';

// The process's Prometheus metrics (prom-client). Created on first use, so a
// config with `metrics: false` registers nothing and pays nothing. Labels are
// bounded sets: route patterns (never raw paths), function names that exist,
// methods Node's parser accepts, status codes.
//
// The request path calls `request()` once per request. prom-client hashes a
// label object on every observe; here each (route, method) pair keeps its
// children, found with two map lookups, so a request costs a few increments.

/** Seconds: from a cached answer to a slow function. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One process's metrics as prom-client JSON: what crosses between workers. */
export type MetricsJson = client.MetricObjectWithValues<client.MetricValue<string>>[];

export type CallOutcome = 'success' | 'error' | 'unavailable';

interface RouteChildren {
  duration: client.Histogram.Internal<'route' | 'method'>;
  requestBytes: client.Counter.Internal;
  responseBytes: client.Counter.Internal;
  byStatus: Map<number, client.Counter.Internal>;
}

export class PorticoMetrics {
  readonly registry = new client.Registry();
  private readonly requests = new client.Counter({ name: 'portico_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status.', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  private readonly durations = new client.Histogram({ name: 'portico_http_request_duration_seconds', help: 'Time from the request to its answer, by route pattern and method.', labelNames: ['route', 'method'] as const, buckets: DURATION_BUCKETS, registers: [this.registry] });
  private readonly requestBytes = new client.Counter({ name: 'portico_http_request_bytes_total', help: 'Bytes read from the connection for requests (head and body), by route pattern.', labelNames: ['route'] as const, registers: [this.registry] });
  private readonly responseBytes = new client.Counter({ name: 'portico_http_response_bytes_total', help: 'Bytes written to the connection for answers (head and body), by route pattern.', labelNames: ['route'] as const, registers: [this.registry] });
  private readonly calls = new client.Counter({ name: 'portico_function_calls_total', help: 'Query, mutation and action calls, by function, kind and outcome.', labelNames: ['function', 'kind', 'outcome'] as const, registers: [this.registry] });
  private readonly callDurations = new client.Histogram({ name: 'portico_function_duration_seconds', help: 'Time a function call took, by function and kind.', labelNames: ['function', 'kind'] as const, buckets: DURATION_BUCKETS, registers: [this.registry] });
  private readonly conflicts = new client.Counter({ name: 'portico_transaction_conflicts_total', help: 'Mutations that met a serialization conflict.', registers: [this.registry] });
  private readonly retries = new client.Counter({ name: 'portico_transaction_retries_total', help: 'Mutation attempts re-run after a conflict.', registers: [this.registry] });
  private readonly reloads = new client.Counter({ name: 'portico_reloads_total', help: 'Config and code reloads, by outcome (ok, refused).', labelNames: ['outcome'] as const, registers: [this.registry] });
  private readonly routes = new Map<string, Map<string, RouteChildren>>();
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

  /** One answered request; `route` must come from a bounded set (see routeLabel). */
  request(route: string, method: string, status: number, seconds: number, requestBytes: number, responseBytes: number): void {
    let byMethod = this.routes.get(route);
    if (byMethod === undefined) this.routes.set(route, (byMethod = new Map()));
    let children = byMethod.get(method);
    if (children === undefined) {
      children = {
        duration: this.durations.labels(route, method),
        requestBytes: this.requestBytes.labels(route),
        responseBytes: this.responseBytes.labels(route),
        byStatus: new Map(),
      };
      byMethod.set(method, children);
    }
    let counter = children.byStatus.get(status);
    if (counter === undefined) children.byStatus.set(status, (counter = this.requests.labels(route, method, String(status))));
    counter.inc();
    children.duration.observe(seconds);
    if (requestBytes > 0) children.requestBytes.inc(requestBytes);
    if (responseBytes > 0) children.responseBytes.inc(responseBytes);
  }

  functionCall(name: string, kind: string, outcome: CallOutcome, seconds: number): void {
    this.calls.labels(name, kind, outcome).inc();
    this.callDurations.labels(name, kind).observe(seconds);
  }

  conflict(retried: boolean): void {
    this.conflicts.inc();
    if (retried) this.retries.inc();
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
