import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { PorticoConfig } from '../config/types.js';
import { processMetrics, routeLabel } from '../metrics/metrics.js';
import { recentRoutes } from '../metrics/recent.js';

// Per answered request: Prometheus counters and histograms, and the
// dashboard's per-route charts. Bytes are what the connection carried for
// this request (head and body), read from the socket's counters: what was
// read or written on it since the previous request on the same connection.

export type RequestMeter = (req: IncomingMessage, route: string | null, status: number, ms: number) => void;

const SEEN = Symbol('portico.meteredBytes');
type Counted = Socket & { [SEEN]?: { read: number; written: number } };

export function requestMeterFor(config: PorticoConfig, mounts: readonly { prefix: string }[]): RequestMeter | null {
  if (config.metrics === null) return null;
  const metrics = processMetrics();
  const prefixes = mounts.map((mount) => mount.prefix);
  return (req, route, status, ms) => {
    const label = routeLabel(req.url!, route, prefixes);
    const socket = req.socket as Counted | null;
    let read = 0;
    let written = 0;
    if (socket) {
      const seen = (socket[SEEN] ??= { read: 0, written: 0 });
      read = socket.bytesRead - seen.read;
      written = socket.bytesWritten - seen.written;
      seen.read = socket.bytesRead;
      seen.written = socket.bytesWritten;
    }
    const entry = metrics.request(label, req.method!, status, ms / 1000, read, written);
    // The dashboard charts the project's routes, not its own endpoints.
    if (label === route && !route.startsWith('/_portico/')) recentRoutes.record(entry.chartKey, ms, status >= 500);
  };
}
