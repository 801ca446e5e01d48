import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Exchange, Mount } from './gateway.js';
import { answerHeaders } from './gateway.js';
import { databaseHealth } from '../database/health.js';
import { writeGatewayError, writeJson } from './gateway-responses.js';
import { GatewayError } from '../http/errors.js';
import type { PorticoConfig } from '../config/types.js';
import { answerMetrics } from './metrics-endpoint.js';
import { answerOpenApi } from './openapi-endpoint.js';

// /_portico/*: the gateway's own operational endpoints.
//   GET /_portico/health → {"status":"ok","configHash":...}: which config is
//   serving (a refused reload leaves the old hash here), and codeHash, which
//   code: both the same for the same files on any port, host or folder.

export const OPS_PREFIX = '/_portico/';

export class OpsMount implements Mount {
  constructor(
    private readonly facts: { configHash: string; codeHash: string; routes: number; backend: string },
    /** /_portico/metrics (with the config's access rule) and /_portico/dashboard. */
    private readonly extras: { config?: PorticoConfig; dashboard?: Mount | null; openapi?: () => string } = {},
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number> {
    exchange.route = req.url!.split('?')[0]!;
    exchange.handler = '(portico)';
    const headers = [...answerHeaders(exchange), 'cache-control', 'no-store'];
    if (exchange.route === '/_portico/health' && req.method !== 'GET' && req.method !== 'HEAD') {
      const error = new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: GET, HEAD`);
      writeGatewayError(res, error.withHeaders([['allow', 'GET, HEAD']]), headers);
      return error.status;
    }
    if (exchange.route === '/_portico/health') {
      // An unreachable database answers 503 with status "degraded", so that
      // a load balancer takes this instance out until it is back.
      const database = await databaseHealth();
      const status = database.status === 'ok' ? 200 : 503;
      writeJson(res, status, {
        status: database.status === 'ok' ? 'ok' : 'degraded',
        configHash: this.facts.configHash,
        codeHash: this.facts.codeHash,
        routes: this.facts.routes,
        backend: this.facts.backend,
        pid: process.pid,
        // The process's, not this configuration's: a reload does not restart it.
        uptimeSeconds: Math.round(process.uptime()),
        database,
      }, headers);
      return status;
    }
    if (exchange.route === '/_portico/openapi.json' && this.extras.openapi) return answerOpenApi(req, res, headers, this.extras.openapi);
    if (exchange.route === '/_portico/metrics' && this.extras.config) return answerMetrics(req, res, headers, this.extras.config);
    if (this.extras.dashboard && (exchange.route === '/_portico/dashboard' || exchange.route.startsWith('/_portico/dashboard/'))) return this.extras.dashboard.handle(req, res, exchange);
    const error = new GatewayError('NotFound', `No such endpoint: ${exchange.route}`);
    writeGatewayError(res, error, headers);
    return error.status;
  }
}
