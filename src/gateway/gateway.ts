import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { PorticoConfig } from '../config/types.js';
import type { CompiledCors } from '../cors/compiled-cors.js';
import type { RouteTable, PathGroup } from '../routing/route-table.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import { LazyRequest, abortRequest } from '../http/lazy-request.js';
import { sendResponse } from '../http/send-response.js';
import { runInLogScope } from '../log/console-capture.js';
import type { Caller, IdentitySource } from '../backends/function-backend.js';
import { HttpActionContext, type HttpActionServices } from './http-action-context.js';
import { handlerErrorBody } from './handler-errors.js';
import { closeAfterResponse, writeEmpty, writeGatewayError, writeJson, writeText } from './gateway-responses.js';
import type { CompiledRoute, PreflightInfo } from './compiled-route.js';

// One compiled routes.yaml, immutable once built. `handle` is the whole hot
// path: find the route (radix tree), answer CORS preflights from prepared
// headers, run the HTTP action with its limits, write its Response, log one
// line. A reload builds a new Gateway and swaps the host's reference; a
// request finishes on the Gateway it started on.

/** Something mounted beside the routes: the function API, storage, health. */
export interface Mount {
  /** Answers the request and returns the status it sent. */
  handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number>;
}

/** What every part of one request's handling shares. */
export interface Exchange {
  requestId: string;
  /** x-request-id plus, for allowed origins, the CORS headers. */
  headers: string[];
  /** The answer depends on Origin (a CORS policy applies): Vary: Origin. */
  vary: boolean;
  /** The route pattern and handler, for the request log. */
  route: string | null;
  handler: string | null;
}

export interface GatewayServices extends HttpActionServices {
  logger: Logger;
  /** Redact error details from clients (NODE_ENV=production). */
  production: boolean;
  /** The identity behind a request's Authorization header, verified on demand. */
  identityOf(req: IncomingMessage): IdentitySource;
}

export interface GatewayParts {
  config: PorticoConfig;
  table: RouteTable<CompiledRoute>;
  preflights: ReadonlyMap<PathGroup<CompiledRoute>, PreflightInfo>;
  /** The top-level CORS policy, for answers no route owns (404). */
  defaultCors: CompiledCors | null;
  /** Mounted under a prefix, tried in order before the routes. */
  mounts: readonly { prefix: string; mount: Mount }[];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Gateway {
  readonly config: PorticoConfig;
  private readonly table: RouteTable<CompiledRoute>;
  private readonly preflights: ReadonlyMap<PathGroup<CompiledRoute>, PreflightInfo>;
  private readonly defaultCors: CompiledCors | null;
  private readonly mounts: readonly { prefix: string; mount: Mount }[];

  constructor(
    parts: GatewayParts,
    private readonly services: GatewayServices,
  ) {
    this.config = parts.config;
    this.table = parts.table;
    this.preflights = parts.preflights;
    this.defaultCors = parts.defaultCors;
    this.mounts = parts.mounts;
  }

  get routeCount(): number {
    return this.config.routes.length;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const incomingId = req.headers['x-request-id'];
    const requestId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const exchange: Exchange = { requestId, headers: ['x-request-id', requestId], vary: false, route: null, handler: null };
    let status: number;
    try {
      status = await this.dispatch(req, res, exchange);
    } catch (error) {
      status = this.internalError(res, exchange, error);
    }
    this.logRequest(req, exchange, status, started);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number> {
    const url = req.url!;
    for (const { prefix, mount } of this.mounts) {
      if (url.startsWith(prefix)) return mount.handle(req, res, exchange);
    }
    const method = req.method!;
    const match = this.table.match(method, url);
    if (match === null) return this.noRoute(req, res, exchange);
    if (match.kind === 'preflight') return this.preflight(req, res, exchange, match.group);

    const route = match.value;
    exchange.route = route.pattern;
    exchange.handler = route.handlerName;
    this.addCors(req, exchange, route.cors);
    return this.runAction(req, res, exchange, route, match.params);
  }

  private async runAction(
    req: IncomingMessage,
    res: ServerResponse,
    exchange: Exchange,
    route: CompiledRoute,
    params: Record<string, string>,
  ): Promise<number> {
    let body: IncomingBody | null = null;
    if (!METHODS_WITHOUT_BODY.has(req.method!)) {
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > route.bodyLimit) {
        // Refused before a byte of the body is read.
        closeAfterResponse(res);
        return this.fail(res, exchange, GatewayError.payloadTooLarge(route.bodyLimit));
      }
      body = new IncomingBody(req, res, route.bodyLimit);
    }

    const identity = this.services.identityOf(req);
    if (route.authRequired) {
      try {
        if ((await identity.get()) === null) throw new GatewayError('Unauthenticated', 'This route requires a token: send Authorization: Bearer <jwt>');
      } catch (error) {
        const failure = isGatewayError(error) ? error : new GatewayError('Unauthenticated', (error as Error).message);
        failure.withHeaders([['www-authenticate', wwwAuthenticate(failure)]]);
        return this.fail(res, exchange, failure);
      }
    }

    const request = new LazyRequest(req, res, body);
    const caller: Caller = { identity, internal: true, requestId: exchange.requestId, collectLogs: false };
    const ctx = new HttpActionContext(this.services, caller, params);

    // The timeout answers 504 on its own if the handler is still running;
    // the handler's late answer is then dropped.
    let settled = false;
    let timeoutStatus = 0;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      abortRequest(request, timeoutError(route.timeoutMs));
      if (res.headersSent) {
        res.destroy();
        timeoutStatus = res.statusCode;
      } else {
        timeoutStatus = this.fail(res, exchange, new GatewayError('Timeout', `The handler did not answer within ${route.timeoutMs} ms`));
      }
    }, route.timeoutMs);

    let response: unknown;
    let failure: unknown = null;
    try {
      response = await runInLogScope({ requestId: exchange.requestId, source: route.handlerName, lines: null }, () =>
        route.action.handler(ctx, request as unknown as Request),
      );
    } catch (error) {
      failure = error;
    }
    if (settled) return timeoutStatus;

    try {
      if (body?.tooLarge) {
        closeAfterResponse(res);
        return this.fail(res, exchange, GatewayError.payloadTooLarge(route.bodyLimit));
      }
      if (failure !== null) {
        if (isGatewayError(failure)) return this.fail(res, exchange, failure);
        return this.handlerError(res, exchange, failure);
      }
      if (!(response instanceof Response)) {
        return this.handlerError(res, exchange, new Error('HTTP actions must return a Response'));
      }
      if (body !== null && !body.fullyRead && req.headers['content-length'] === undefined) {
        // A chunked body nobody read: draining it could mean reading without limit.
        closeAfterResponse(res);
      }
      try {
        const outcome = await sendResponse(res, response, {
          head: req.method === 'HEAD',
          limit: route.responseLimit,
          extraHeaders: exchange.headers,
          vary: exchange.vary ? 'Origin' : null,
        });
        if (outcome.broken) this.services.logger.error({ reqId: exchange.requestId, err: outcome.broken }, 'response body not delivered completely');
        return outcome.status;
      } catch (error) {
        if (isGatewayError(error)) {
          this.services.logger.error({ reqId: exchange.requestId, handler: route.handlerName }, error.message);
          return this.fail(res, exchange, error);
        }
        return this.handlerError(res, exchange, error);
      }
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }

  private preflight(req: IncomingMessage, res: ServerResponse, exchange: Exchange, group: PathGroup<CompiledRoute>): number {
    const info = this.preflights.get(group)!;
    exchange.route = group.kind === 'prefix' ? `${group.path}*` : group.path;
    exchange.handler = '(preflight)';
    const origin = req.headers.origin;
    const requested = req.headers['access-control-request-method'];
    exchange.vary = true;
    if (origin === undefined || requested === undefined) {
      // Not a CORS preflight: a plain OPTIONS learns what the path allows.
      writeEmpty(res, 204, [...answerHeaders(exchange), 'allow', info.allow]);
      return 204;
    }
    const cors = info.corsByMethod.get(requested) ?? info.cors;
    if (!cors.allows(origin)) {
      return this.fail(res, exchange, new GatewayError('CorsOriginDenied', `Origin ${origin} is not allowed to call ${exchange.route}`));
    }
    writeEmpty(res, 204, [...answerHeaders(exchange), ...cors.preflightHeaders(origin, info.allowMethods)]);
    return 204;
  }

  private noRoute(req: IncomingMessage, res: ServerResponse, exchange: Exchange): number {
    const allowed = this.table.allowedMethods(req.url!);
    const owner = allowed.length > 0 ? this.table.match(allowed[0]!, req.url!) : null;
    const cors = owner?.kind === 'route' ? owner.value.cors : owner?.kind === 'preflight' ? this.preflights.get(owner.group)!.cors : this.defaultCors;
    this.addCors(req, exchange, cors);
    if (allowed.length === 0) {
      writeText(res, 404, 'No matching routes found', answerHeaders(exchange), req.method === 'HEAD');
      return 404;
    }
    const error = new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`);
    return this.fail(res, exchange, error.withHeaders([['allow', allowed.join(', ')]]));
  }

  /** Adds CORS headers for an allowed origin (used for the gateway's own answers). */
  addCors(req: IncomingMessage, exchange: Exchange, cors: CompiledCors | null): void {
    if (cors === null) return;
    exchange.vary = true;
    const origin = req.headers.origin;
    if (origin !== undefined && cors.allows(origin)) exchange.headers.push(...cors.actualHeaders(origin));
  }

  private fail(res: ServerResponse, exchange: Exchange, error: GatewayError): number {
    if (res.headersSent) {
      res.destroy();
      return res.statusCode;
    }
    writeGatewayError(res, error, answerHeaders(exchange));
    return error.status;
  }

  private handlerError(res: ServerResponse, exchange: Exchange, error: unknown): number {
    this.services.logger.error({ reqId: exchange.requestId, handler: exchange.handler, err: error }, 'handler failed');
    if (res.headersSent) {
      res.destroy();
      return res.statusCode;
    }
    writeJson(res, 500, handlerErrorBody(error, exchange.requestId, this.services.production), answerHeaders(exchange));
    return 500;
  }

  private internalError(res: ServerResponse, exchange: Exchange, error: unknown): number {
    this.services.logger.error({ reqId: exchange.requestId, err: error }, 'internal error');
    if (res.headersSent) {
      res.destroy();
      return res.statusCode;
    }
    writeJson(res, 500, { code: 'InternalServerError', message: `Internal error; see the logs for request ${exchange.requestId}` }, answerHeaders(exchange));
    return 500;
  }

  private logRequest(req: IncomingMessage, exchange: Exchange, status: number, started: number): void {
    const url = req.url!;
    const query = url.indexOf('?');
    this.services.logger.info(
      {
        reqId: exchange.requestId,
        method: req.method,
        path: query === -1 ? url : url.slice(0, query),
        route: exchange.route,
        handler: exchange.handler,
        status,
        ms: Math.round((performance.now() - started) * 1000) / 1000,
      },
      'request',
    );
  }
}

/** Headers for an answer the gateway writes itself. */
export function answerHeaders(exchange: Exchange): string[] {
  return exchange.vary ? [...exchange.headers, 'vary', 'Origin'] : exchange.headers;
}

function timeoutError(ms: number): Error {
  const error = new Error(`The route's timeout of ${ms} ms elapsed`);
  error.name = 'TimeoutError';
  return error;
}

function wwwAuthenticate(error: GatewayError): string {
  const description = error.message.replace(/["\\]/g, '');
  return error.code === 'Unauthenticated' && /requires a token/.test(error.message)
    ? 'Bearer realm="portico"'
    : `Bearer realm="portico", error="invalid_token", error_description="${description}"`;
}
