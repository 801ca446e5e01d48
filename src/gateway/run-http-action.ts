import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Caller, IdentitySource } from '../backends/function-backend.js';
import { AuthError } from '../auth/authenticator.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import { LazyRequest, abortRequest } from '../http/lazy-request.js';
import { sendResponse, type SendOutcome } from '../http/send-response.js';
import { challengeText } from '../http/header-values.js';
import type { Forwarding } from '../http/forwarding.js';
import { runInLogScope } from '../log/console-capture.js';
import type { CompiledRoute } from './compiled-route.js';
import { Deadlines } from './deadlines.js';
import type { Exchange } from './exchange.js';
import { answerGatewayError, answerHandlerError, closeAfterResponse } from './gateway-responses.js';
import { HttpActionContext, type HttpActionServices } from './http-action-context.js';
import type { CheckedRequest } from '../policies/request-schema.js';
import type { MiddlewareSet } from '../policies/middleware.js';

// One HTTP action, from the matched route to the written response:
//   1. a declared Content-Length over the limit is refused before the body is read;
//   2. `auth: required` verifies the token before the handler runs (401);
//   3. the handler runs with a lazy Request and its ctx, under the route's timeout;
//   4. its Response is written (or a 413 / 500 / 504 in its place).
// The common path awaits nothing but the handler's own promise.

export interface ActionServices extends HttpActionServices {
  logger: Logger;
  /** Where request.url takes its scheme and host (server.trustProxy). */
  forwarding?: Forwarding;
  production: boolean;
  identityOf(req: IncomingMessage): IdentitySource;
  /** The config's Koa middleware, loaded (routes with `middleware:`). */
  middleware?: MiddlewareSet;
}

const METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);
const deadlines = new Deadlines();

export function runHttpAction(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
): number | Promise<number> {
  let body: IncomingBody | null = null;
  if (!METHODS_WITHOUT_BODY.has(req.method!)) {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > route.bodyLimit) {
      closeAfterResponse(res);
      return answerGatewayError(res, exchange, GatewayError.payloadTooLarge(route.bodyLimit));
    }
    body = new IncomingBody(req, res, route.bodyLimit);
  }
  const identity = services.identityOf(req);
  if (!route.authRequired) return proceed(services, req, res, exchange, route, params, body, identity);
  return identity.get().then(
    (user) => {
      if (user !== null) return proceed(services, req, res, exchange, route, params, body, identity);
      return refuse(res, exchange, new GatewayError('Unauthenticated', 'This route requires a token: send Authorization: Bearer <jwt>'), 'missing');
    },
    (error) => refuse(res, exchange, error instanceof AuthError ? new GatewayError(error.code, error.message) : new GatewayError('Unauthenticated', (error as Error).message), 'invalid'),
  );
}

/** 401 with the RFC 6750 challenge: a bare one without a token, invalid_token with one. */
function refuse(res: ServerResponse, exchange: Exchange, error: GatewayError, token: 'missing' | 'invalid'): number {
  const challenge =
    token === 'missing'
      ? 'Bearer realm="portico"'
      : `Bearer realm="portico", error="invalid_token", error_description="${challengeText(error.message)}"`;
  return answerGatewayError(res, exchange, error.withHeaders([['www-authenticate', challenge]]));
}

/** The route's request schema, when it declares one (400/413/415 before the handler), then the handler. */
function proceed(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
  body: IncomingBody | null,
  identity: IdentitySource,
): number | Promise<number> {
  if (route.requestSchema === null) return withMiddleware(services, req, res, exchange, route, params, body, identity, null);
  return route.requestSchema.check(req, res, body, params).then((checked) => {
    if (!isGatewayError(checked)) return withMiddleware(services, req, res, exchange, route, checked.params, checked.body ?? body, identity, checked);
    if (checked.status === 413 || (body !== null && !body.fullyRead)) closeAfterResponse(res);
    return answerGatewayError(res, exchange, checked);
  });
}

/** The route's Koa middleware, when it has any, around the handler. */
function withMiddleware(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
  body: IncomingBody | null,
  identity: IdentitySource,
  checked: CheckedRequest | null,
): number | Promise<number> {
  if (route.middleware === null) return invoke(services, req, res, exchange, route, params, body, identity, checked, undefined);
  return route.middleware
    .run(req, res, exchange, (state) => invoke(services, req, res, exchange, route, params, body, identity, checked, state))
    .then((result) => (isGatewayError(result) ? answerGatewayError(res, exchange, result) : result));
}

function invoke(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
  body: IncomingBody | null,
  identity: IdentitySource,
  checked: CheckedRequest | null,
  state: Record<string, unknown> | undefined,
): number | Promise<number> {
  const request = new LazyRequest(req, res, body, services.forwarding);
  const caller: Caller = { identity, internal: true, requestId: exchange.requestId, collectLogs: false };
  const ctx = new HttpActionContext(services, caller, params);
  if (checked !== null) {
    checked.attach(request);
    ctx.query = checked.query;
  }
  // What the route's Koa middleware put in ctx.state.
  if (state !== undefined) ctx.state = state;

  // At the timeout the gateway answers 504 itself (or breaks a response
  // already streaming) and aborts request.signal; the handler's late answer
  // is dropped. The request counts as done then (logged, no longer in
  // flight), even if the handler never settles.
  let timedOut = false;
  let timeoutStatus = 0;
  let settle: ((status: number) => void) | null = null;
  const deadline = deadlines.add(route.timeoutMs, () => {
    timedOut = true;
    abortRequest(request, timeoutError(route.timeoutMs));
    timeoutStatus = answerGatewayError(res, exchange, new GatewayError('Timeout', `The handler did not answer within ${route.timeoutMs} ms`));
    settle?.(timeoutStatus);
  });

  const finish = (response: unknown, failure: unknown): number | Promise<number> => {
    if (timedOut) return timeoutStatus;
    const status = answer(response, failure);
    // The timeout also covers a body that is still streaming.
    if (typeof status === 'number') {
      deadlines.cancel(deadline);
      return status;
    }
    return status.then((sent) => {
      deadlines.cancel(deadline);
      return timedOut ? timeoutStatus : sent;
    });
  };

  const answer = (response: unknown, failure: unknown): number | Promise<number> => {
    if (body?.tooLarge) {
      closeAfterResponse(res);
      return answerGatewayError(res, exchange, GatewayError.payloadTooLarge(route.bodyLimit));
    }
    if (failure !== null) {
      if (isGatewayError(failure)) return answerGatewayError(res, exchange, failure);
      return answerHandlerError(res, exchange, failure, services.logger, services.production);
    }
    if (!(response instanceof Response)) {
      const error = new Error(`HTTP actions must return a Response: ${route.handlerName} returned ${describeValue(response)}`);
      return answerHandlerError(res, exchange, error, services.logger, services.production);
    }
    // A chunked body nobody read: draining it could mean reading without limit.
    if (body !== null && !body.fullyRead && req.headers['content-length'] === undefined) closeAfterResponse(res);
    return send(services, req, res, exchange, route, response);
  };

  let result: unknown;
  try {
    result = runInLogScope({ requestId: exchange.requestId, source: route.handlerName, lines: null }, () =>
      route.action.handler(ctx, request as unknown as Request),
    );
  } catch (error) {
    // A failure is answered at once: there is nothing for the timeout to cut short.
    return finish(undefined, error);
  }
  const answered = Promise.resolve(result).then(
    (response) => finish(response, null),
    (error) => finish(undefined, error ?? new Error('The handler threw undefined')),
  );
  // Settles when the answer is sent, or at the timeout if that comes first.
  return new Promise<number>((resolve, reject) => {
    settle = resolve;
    answered.then(resolve, reject);
  });
}

/** The route's compression, when it has one, then the answer. */
function send(services: ActionServices, req: IncomingMessage, res: ServerResponse, exchange: Exchange, route: CompiledRoute, response: Response): number | Promise<number> {
  if (route.compression === null) return sendAsIs(services, req, res, exchange, route, response);
  const encoded = route.compression.encode(req, response);
  if (!(encoded instanceof Promise)) return sendAsIs(services, req, res, exchange, route, encoded);
  return encoded.then(
    (ready) => sendAsIs(services, req, res, exchange, route, ready),
    (error) => answerHandlerError(res, exchange, error, services.logger, services.production),
  );
}

function sendAsIs(services: ActionServices, req: IncomingMessage, res: ServerResponse, exchange: Exchange, route: CompiledRoute, response: Response): number | Promise<number> {
  const reported = (outcome: SendOutcome) => {
    if (outcome.broken) services.logger.error({ reqId: exchange.requestId, handler: route.handlerName, err: outcome.broken }, 'response body not delivered completely');
    return outcome.status;
  };
  const failed = (error: unknown) => {
    if (!isGatewayError(error)) return answerHandlerError(res, exchange, error, services.logger, services.production);
    services.logger.error({ reqId: exchange.requestId, handler: route.handlerName }, error.message);
    return answerGatewayError(res, exchange, error);
  };
  try {
    const outcome = sendResponse(res, response, {
      head: req.method === 'HEAD',
      limit: route.responseLimit,
      extraHeaders: exchange.headers,
      vary: exchange.vary ? 'Origin' : null,
    });
    return outcome instanceof Promise ? outcome.then(reported, failed) : reported(outcome);
  } catch (error) {
    return failed(error);
  }
}

function timeoutError(ms: number): Error {
  const error = new Error(`The route's timeout of ${ms} ms elapsed`);
  error.name = 'TimeoutError';
  return error;
}

/** What a handler returned instead of a Response, in a few words: `undefined`, `a string`, `an object {ok}`. */
function describeValue(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value !== 'object' && typeof value !== 'function') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'function') return 'a function (call it, or return what it returns)';
  const name = (value as object).constructor?.name;
  if (name && name !== 'Object') return `a ${name}`;
  const keys = Object.keys(value as object).slice(0, 5);
  return `an object {${keys.join(', ')}${Object.keys(value as object).length > 5 ? ', …' : ''}}`;
}
