import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { AuthError } from '../auth/authenticator.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { challengeText } from '../http/header-values.js';
import { forwardingFor } from '../http/forwarding.js';
import type { CompiledRoute } from './compiled-route.js';
import type { Exchange } from './exchange.js';
import { answerGatewayError, closeAfterResponse } from './gateway-responses.js';
import { checkProxyRequest } from './check-proxy-request.js';
import type { ActionServices } from './run-http-action.js';

// A proxy route, from the matched route to the relayed answer, in the one
// order of every route: `auth: required` (401), the request schema (400,
// 413, 415), the route's middleware, then src/proxy forwards it; nothing
// reaches the upstream before all of these passed. Every error answer goes
// through the catalogue here, with the request id and the route's CORS headers.

const DIRECT = forwardingFor(false);

export function runProxy(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
): number | Promise<number> {
  const proxy = route.proxy!;
  const fail = (error: GatewayError, close: boolean) => {
    if (close) closeAfterResponse(res);
    return answerGatewayError(res, exchange, error);
  };
  const upstream = (checked: Buffer | null) => proxy.forward(req, res, params, exchange, services.forwarding ?? DIRECT, fail, checked);
  // The route's Koa middleware, after auth and the request schema, around the upstream.
  const middleware = route.middleware;
  const relay = (checked: Buffer | null) =>
    middleware === null ? upstream(checked) : middleware.run(req, res, exchange, () => upstream(checked)).then((result) => (isGatewayError(result) ? answerGatewayError(res, exchange, result) : result));
  const schema = route.requestSchema;
  const forward = schema === null ? () => relay(null) : () => checkProxyRequest(schema, req, res, exchange, route, params).then((pass) => (typeof pass === 'number' ? pass : relay(pass.body)));
  if (!route.authRequired) return forward();
  return services.identityOf(req).get().then(
    (user) => (user !== null ? forward() : refuse(res, exchange, new GatewayError('Unauthenticated', 'This route requires a token: send Authorization: Bearer <jwt>'), false)),
    (error) => refuse(res, exchange, error instanceof AuthError ? new GatewayError(error.code, error.message) : new GatewayError('Unauthenticated', (error as Error).message), true),
  );
}

/**
 * A WebSocket upgrade on a proxy route that allows them: auth first, then the
 * request schema, then the tunnel. `res` writes answers on the upgrading
 * socket (the 401, the 400, the 502).
 */
export function runUpgrade(
  services: ActionServices,
  req: IncomingMessage,
  res: ServerResponse,
  socket: Duplex,
  head: Buffer,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
): Promise<number> {
  const proxy = route.proxy!;
  const fail = (error: GatewayError) => answerGatewayError(res, exchange, error);
  const tunnel = () => proxy.upgrade(req, socket, head, params, exchange, services.forwarding ?? DIRECT, fail);
  // The handshake is checked as any GET on the route (it has no body to check).
  const schema = route.requestSchema;
  const open = schema === null ? tunnel : () => checkProxyRequest(schema, req, res, exchange, route, params).then((pass) => (typeof pass === 'number' ? pass : tunnel()));
  if (!route.authRequired) return open();
  return services.identityOf(req).get().then(
    (user) => (user !== null ? open() : refuse(res, exchange, new GatewayError('Unauthenticated', 'This route requires a token: send Authorization: Bearer <jwt>'), false)),
    (error) => refuse(res, exchange, error instanceof AuthError ? new GatewayError(error.code, error.message) : new GatewayError('Unauthenticated', (error as Error).message), true),
  );
}

/** 401 with the RFC 6750 challenge, as handler routes answer it. */
function refuse(res: ServerResponse, exchange: Exchange, error: GatewayError, invalidToken: boolean): number {
  const challenge = invalidToken ? `Bearer realm="portico", error="invalid_token", error_description="${challengeText(error.message)}"` : 'Bearer realm="portico"';
  // The client may still be sending a body nobody will read.
  closeAfterResponse(res);
  return answerGatewayError(res, exchange, error.withHeaders([['www-authenticate', challenge]]));
}

/** The `action` of a proxy route: never run, since the gateway forwards such routes. */
export const PROXY_ACTION = {
  kind: 'httpAction',
  handler: () => Promise.reject(new Error('a proxy route has no handler')),
} as unknown as CompiledRoute['action'];
