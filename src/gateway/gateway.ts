import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PorticoConfig } from '../config/types.js';
import type { CompiledCors } from '../cors/compiled-cors.js';
import type { RouteTable, PathGroup } from '../routing/route-table.js';
import { GatewayError } from '../http/errors.js';
import { isMalformedPath, isValidHost, SLASH, toOriginForm } from '../http/request-target.js';
import type { CompiledRoute, PreflightInfo } from './compiled-route.js';
import { answerHeaders, newExchange, type Exchange } from './exchange.js';
import { answerGatewayError, closeAfterResponse, writeEmpty } from './gateway-responses.js';
import { runHttpAction, type ActionServices } from './run-http-action.js';
import { runProxy, runUpgrade } from './run-proxy.js';
import { rateLimited } from './policy-steps.js';
import { requestLogFor, type RequestLog } from '../log/request-log.js';
import { forwardingFor, type Forwarding } from '../http/forwarding.js';
import { requestMeterFor, type RequestMeter } from './request-meter.js';

// One compiled routes.yaml, immutable once built. `handle` is the whole hot
// path: mounted endpoints (health, the function API) by prefix, then the
// route table (radix tree), CORS preflights from prepared headers, the HTTP
// action with its limits, and one log line. A reload builds a new Gateway and
// swaps the host's reference; a request finishes on the Gateway it started on.

export { answerHeaders, type Exchange } from './exchange.js';

/** Something mounted beside the routes: the function API, health. */
export interface Mount {
  /** Answers the request and returns the status it sent. */
  handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number>;
}

export type GatewayServices = ActionServices;

export interface GatewayParts {
  config: PorticoConfig;
  table: RouteTable<CompiledRoute>;
  preflights: ReadonlyMap<PathGroup<CompiledRoute>, PreflightInfo>;
  /** The top-level CORS policy, for answers no route owns (404). */
  defaultCors: CompiledCors | null;
  /** Mounted under a prefix, tried in order before the routes. */
  mounts: readonly { prefix: string; mount: Mount }[];
}

export class Gateway {
  readonly config: PorticoConfig;
  private readonly table: RouteTable<CompiledRoute>;
  private readonly preflights: ReadonlyMap<PathGroup<CompiledRoute>, PreflightInfo>;
  private readonly defaultCors: CompiledCors | null;
  private readonly mounts: readonly { prefix: string; mount: Mount }[];
  private readonly requestLog: RequestLog;
  /** Metrics and the dashboard's charts; null with `metrics: false`. */
  private readonly meter: RequestMeter | null;
  private readonly services: GatewayServices;
  /** Who the client is (server.trustProxy), decided once per configuration. */
  readonly forwarding: Forwarding;

  constructor(parts: GatewayParts, services: GatewayServices) {
    this.forwarding = forwardingFor(parts.config.server.trustProxy);
    this.services = { ...services, forwarding: this.forwarding };
    this.requestLog = requestLogFor(services.logger);
    this.meter = requestMeterFor(parts.config, parts.mounts);
    this.config = parts.config;
    this.table = parts.table;
    this.preflights = parts.preflights;
    this.defaultCors = parts.defaultCors;
    this.mounts = parts.mounts;
  }

  /**
   * Answers one request; the promise (if any) settles when it is answered and
   * logged. `started` is when it arrived (performance.now()), for its duration.
   */
  handle(req: IncomingMessage, res: ServerResponse, started = performance.now()): Promise<void> | void {
    const exchange = newExchange(req);
    let status: number | Promise<number>;
    try {
      status = this.dispatch(req, res, exchange);
    } catch (error) {
      status = this.internalError(req, res, exchange, error);
    }
    if (typeof status === 'number') return this.logRequest(req, exchange, status, started, res);
    return status.then(
      (sent) => this.logRequest(req, exchange, sent, started, res),
      (error) => this.logRequest(req, exchange, this.internalError(req, res, exchange, error), started, res),
    );
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, exchange: Exchange): number | Promise<number> {
    if (req.url!.charCodeAt(0) !== SLASH && !toOriginForm(req)) return this.badTarget(req, res, exchange);
    const host = req.headers.host;
    if (host === undefined) {
      // RFC 9112 (3.2): an HTTP/1.1 request without Host is answered 400.
      if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
        closeAfterResponse(res);
        return this.badRequest(req, res, exchange, 'An HTTP/1.1 request must carry a Host header');
      }
    } else if (!isValidHost(host)) return this.badRequest(req, res, exchange, 'The Host header must be host[:port]');
    const url = req.url!;
    for (const { prefix, mount } of this.mounts) {
      if (url.startsWith(prefix)) return mount.handle(req, res, exchange);
    }
    const match = this.table.match(req.method!, url);
    if (match === null) return this.noRoute(req, res, exchange);
    if (match.kind === 'preflight') return this.preflight(req, res, exchange, match.group);

    const route = match.value;
    exchange.route = route.pattern;
    exchange.handler = route.handlerName;
    this.addCors(req, exchange, route.cors);
    if (route.rateLimit !== null) return rateLimited(route.rateLimit, req, res, exchange, match.params, () => this.run(req, res, exchange, route, match.params));
    return this.run(req, res, exchange, route, match.params);
  }

  private run(req: IncomingMessage, res: ServerResponse, exchange: Exchange, route: CompiledRoute, params: Record<string, string>): number | Promise<number> {
    if (route.proxy !== null) return runProxy(this.services, req, res, exchange, route, params);
    return runHttpAction(this.services, req, res, exchange, route, params);
  }

  /**
   * A request with an Upgrade header (Node hands these over with the raw
   * socket). A WebSocket upgrade on a proxy route with `websocket: true`
   * goes through to the upstream; any other is served as a plain request
   * by `serve`, on a response that closes the connection after it.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, serve: (req: IncomingMessage, res: ServerResponse) => void): void {
    // Node takes its own error listener off a socket it hands over for an
    // upgrade: without one, a client resetting it would crash the process.
    socket.on('error', () => socket.destroy());
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    const url = req.url!;
    const match = req.method === 'GET' && url.charCodeAt(0) === SLASH && req.headers.upgrade?.toLowerCase() === 'websocket' && !url.startsWith('/_portico/') ? this.table.match('GET', url) : null;
    if (match?.kind !== 'route' || match.value.proxy === null || !match.value.proxy.websocket) return serve(req, res);
    const started = performance.now();
    const exchange = newExchange(req);
    const route = match.value;
    exchange.route = route.pattern;
    exchange.handler = route.handlerName;
    this.addCors(req, exchange, route.cors);
    runUpgrade(this.services, req, res, socket, head, exchange, route, match.params).then(
      (status) => this.logRequest(req, exchange, status, started, res),
      (error) => this.logRequest(req, exchange, this.internalError(req, res, exchange, error), started, res),
    );
  }

  private preflight(req: IncomingMessage, res: ServerResponse, exchange: Exchange, group: PathGroup<CompiledRoute>): number {
    const info = this.preflights.get(group)!;
    exchange.route = group.kind === 'prefix' ? `${group.path}*` : group.path;
    exchange.handler = '(preflight)';
    exchange.vary = true;
    const origin = req.headers.origin;
    const requested = req.headers['access-control-request-method'];
    if (origin === undefined || requested === undefined) {
      // Not a CORS preflight: a plain OPTIONS learns what the path allows.
      writeEmpty(res, 204, [...answerHeaders(exchange), 'allow', info.allow]);
      return 204;
    }
    const cors = info.corsByMethod.get(requested) ?? info.cors;
    if (!cors.allows(origin)) {
      return answerGatewayError(res, exchange, new GatewayError('CorsOriginDenied', `Origin ${origin} is not allowed to call ${exchange.route}`));
    }
    writeEmpty(res, 204, [...answerHeaders(exchange), ...cors.preflightHeaders(origin, info.allowMethods)]);
    return 204;
  }

  private noRoute(req: IncomingMessage, res: ServerResponse, exchange: Exchange): number {
    // The router cannot decode it, so no route could ever match: the client's mistake, not an unknown path.
    if (isMalformedPath(req.url!)) return this.badTarget(req, res, exchange);
    const allowed = this.table.allowedMethods(req.url!);
    const owner = allowed.length > 0 ? this.table.match(allowed[0]!, req.url!) : null;
    const cors = owner?.kind === 'route' ? owner.value.cors : owner?.kind === 'preflight' ? this.preflights.get(owner.group)!.cors : this.defaultCors;
    this.addCors(req, exchange, cors);
    if (allowed.length === 0) return answerGatewayError(res, exchange, new GatewayError('NoMatchingRoute'));
    const error = new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`);
    return answerGatewayError(res, exchange, error.withHeaders([['allow', allowed.join(', ')]]));
  }

  /** 400 for a target that is not a path (`*`, `foo`) or not valid percent-encoding. */
  private badTarget(req: IncomingMessage, res: ServerResponse, exchange: Exchange): number {
    return this.badRequest(req, res, exchange, 'The request target must be a path such as /users/1, percent-encoded as UTF-8');
  }

  private badRequest(req: IncomingMessage, res: ServerResponse, exchange: Exchange, message: string): number {
    this.addCors(req, exchange, this.defaultCors);
    return answerGatewayError(res, exchange, new GatewayError('BadRequest', message));
  }

  /** Adds CORS headers for an allowed origin (the gateway's own answers get them too). */
  private addCors(req: IncomingMessage, exchange: Exchange, cors: CompiledCors | null): void {
    if (cors === null) return;
    exchange.vary = true;
    const origin = req.headers.origin;
    if (origin !== undefined && cors.allows(origin)) exchange.headers.push(...cors.actualHeaders(origin));
  }

  private internalError(req: IncomingMessage, res: ServerResponse, exchange: Exchange, error: unknown): number {
    if (clientWentAway(req, res, error)) {
      // Nothing failed here, and there is nobody left to answer: logged as
      // the client's doing, with the status nginx uses for it.
      this.services.logger.info({ reqId: exchange.requestId, reason: (error as Error).message }, 'client closed the connection');
      res.destroy();
      return CLIENT_CLOSED_REQUEST;
    }
    this.services.logger.error({ reqId: exchange.requestId, err: error }, 'internal error');
    if (res.headersSent) {
      res.destroy();
      return res.statusCode;
    }
    return answerGatewayError(res, exchange, new GatewayError('InternalServerError', `Internal error; see the logs for request ${exchange.requestId}`));
  }

  private logRequest(req: IncomingMessage, exchange: Exchange, status: number, started: number, res: ServerResponse): void {
    const url = req.url!;
    const query = url.indexOf('?');
    this.meter?.(req, exchange.route, status, performance.now() - started);
    this.requestLog({
      reqId: exchange.requestId,
      method: req.method!,
      path: query === -1 ? url : url.slice(0, query),
      route: exchange.route,
      handler: exchange.handler,
      status,
      ms: Math.round((performance.now() - started) * 1000) / 1000,
      client: this.forwarding.client(req),
      // The client went away (or the transfer broke) before the whole answer
      // reached it: the status is what was meant, not what was received.
      aborted: res.destroyed && !res.writableFinished,
    });
  }
}

/** Logged for a request whose client hung up before it could be answered. */
const CLIENT_CLOSED_REQUEST = 499;

/** A read that failed because the client hung up (reset, or closed mid-body). */
function clientWentAway(req: IncomingMessage, res: ServerResponse, error: unknown): boolean {
  if (!(req.destroyed || res.destroyed)) return false;
  const { code, message, name } = (error ?? {}) as { code?: string; message?: string; name?: string };
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || message === 'aborted' || name === 'AbortError';
}
