import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PorticoConfig } from '../config/types.js';
import { forwardingFor } from '../http/forwarding.js';
import type { KeySources, RateLimit } from '../policies/rate-limit.js';
import type { Exchange } from './exchange.js';
import { answerGatewayError } from './gateway-responses.js';
import type { ActionServices } from './run-http-action.js';

// The policy steps that run before a route's own work, in the one order of
// every route: CORS preflight (answered before this), rate limit, then auth,
// request schema, middleware and the handler inside runHttpAction.

/** Client address (server.trustProxy) and identity, for rate limit keys. */
export function rateLimitKeys(config: PorticoConfig, services: ActionServices): KeySources {
  const forwarding = forwardingFor(config.server.trustProxy);
  return {
    client: (req) => forwarding.client(req),
    identity: (req) => services.identityOf(req).get().then((user) => user?.tokenIdentifier ?? null),
  };
}

/** Counts the request against `limit`, then runs `next`, or answers 429 (503) itself. */
export function rateLimited(
  limit: RateLimit,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  params: Record<string, string>,
  next: () => number | Promise<number>,
): Promise<number> {
  return limit.admit(req, params, exchange.headers).then((refusal) => (refusal === null ? next() : answerGatewayError(res, exchange, refusal)));
}
