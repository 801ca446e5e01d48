import { timingSafeEqual } from 'node:crypto';
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { PorticoConfig } from '../config/types.js';
import { GatewayError } from '../http/errors.js';
import { gather } from '../metrics/cluster-gather.js';
import { CONTENT_TYPE, exposition, processMetrics, type MetricsJson } from '../metrics/metrics.js';
import { writeHeadSafely } from '../http/header-values.js';
import { writeGatewayError } from './gateway-responses.js';

// GET /_portico/metrics: the Prometheus text format. Who may read it is
// routes.yaml's `metrics.access`: `open`, or `adminKey` (the default), which
// takes `Authorization: Bearer <api.adminKey>` (what Prometheus sends with
// `authorization: {credentials: ...}`) and answers 404 when no admin key is
// set, as if there were nothing here. With `metrics.listen` the gateway's
// port does not serve them; the separate listener does (metrics-listener.ts).

/** The whole text, every worker's numbers summed under `--workers`. */
async function metricsText(): Promise<string> {
  const metrics = processMetrics();
  if (!cluster.isWorker) return metrics.registry.metrics();
  const parts = await gather<MetricsJson>('metrics');
  return exposition(parts.length > 0 ? parts : [await metrics.json()]);
}

/** Throws the answer a caller without access gets, or returns when it may scrape. */
function checkMetricsAccess(req: IncomingMessage, config: PorticoConfig): void {
  const settings = config.metrics;
  if (settings === null || settings.listen !== null) throw new GatewayError('NotFound', 'No such endpoint: /_portico/metrics');
  if (settings.access === 'open') return;
  const adminKey = config.api?.adminKey ?? null;
  if (adminKey === null) throw new GatewayError('NotFound', 'No such endpoint: /_portico/metrics');
  if (!presentsKey(req.headers.authorization, adminKey)) {
    throw new GatewayError('BadAdminKey', 'The metrics need the admin key: Authorization: Bearer <key>').withHeaders([['www-authenticate', 'Bearer realm="portico metrics"']]);
  }
}

/** `Bearer <key>` or `Convex <key>`, compared in constant time. */
function presentsKey(header: string | undefined, adminKey: string): boolean {
  const match = /^(?:Bearer|Convex) (.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const expected = Buffer.from(adminKey);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function writeMetrics(res: ServerResponse, headers: string[], head: boolean): Promise<number> {
  const text = await metricsText();
  writeHeadSafely(res, 200, [...headers, 'content-type', CONTENT_TYPE, 'content-length', String(Buffer.byteLength(text))]);
  res.end(head ? undefined : text);
  return 200;
}

/** The whole answer of /_portico/metrics on the gateway's port. */
export async function answerMetrics(req: IncomingMessage, res: ServerResponse, headers: string[], config: PorticoConfig): Promise<number> {
  try {
    checkMetricsAccess(req, config);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: GET, HEAD`).withHeaders([['allow', 'GET, HEAD']]);
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    writeGatewayError(res, error, headers);
    return error.status;
  }
  return writeMetrics(res, headers, req.method === 'HEAD');
}

/**
 * `metrics.listen`: a listener of its own that answers /_portico/metrics (and
 * only that) to anyone who reaches it, typically on an address only the
 * monitoring network sees. Bound at start; a reload does not move it.
 */
export function listenForMetrics(address: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url!.split('?')[0];
    if (path !== '/_portico/metrics' && path !== '/metrics') {
      writeGatewayError(res, new GatewayError('NotFound', `No such endpoint: ${path}`), []);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      writeGatewayError(res, new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: GET, HEAD`).withHeaders([['allow', 'GET, HEAD']]), []);
      return;
    }
    writeMetrics(res, ['cache-control', 'no-store'], req.method === 'HEAD').catch(() => {
      if (!res.headersSent) writeGatewayError(res, new GatewayError('InternalServerError', 'Could not collect the metrics'), []);
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
