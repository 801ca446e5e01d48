import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import type { RequestSchema } from '../policies/request-schema.js';
import type { CompiledRoute } from './compiled-route.js';
import type { Exchange } from './exchange.js';
import { answerGatewayError, closeAfterResponse } from './gateway-responses.js';

// The request schema step of a proxy route, before anything goes upstream.
// Query, params and headers are checked without touching the body, which
// then streams to the upstream as on any proxy route. Only a route with a
// body schema reads the body first, within the route's bodyLimit (its own or
// the top-level default: a body held in memory needs a bound), and forwards
// those checked bytes. What goes upstream is the request as the client sent
// it: coerced values and defaults are for handlers, not for the upstream.

const METHODS_WITHOUT_BODY = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a request that passed goes upstream with: the checked body bytes, or null to stream the body as it comes. */
export interface ProxyPass {
  body: Buffer | null;
}

/** Resolves with what to forward, or with the status of the error answer it sent. */
export async function checkProxyRequest(
  schema: RequestSchema,
  req: IncomingMessage,
  res: ServerResponse,
  exchange: Exchange,
  route: CompiledRoute,
  params: Record<string, string>,
): Promise<ProxyPass | number> {
  let body: IncomingBody | null = null;
  if (schema.checksBody && !METHODS_WITHOUT_BODY.has(req.method!)) {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > route.bodyLimit) {
      closeAfterResponse(res);
      return answerGatewayError(res, exchange, GatewayError.payloadTooLarge(route.bodyLimit));
    }
    body = new IncomingBody(req, res, route.bodyLimit);
  }
  const checked = await schema.check(req, res, body, params);
  if (isGatewayError(checked)) {
    // A body nobody will read (left on the socket, or past the limit) is not drained: the connection closes after the answer.
    if (checked.status === 413 || (sendsBody(req) && !req.complete)) closeAfterResponse(res);
    return answerGatewayError(res, exchange, checked);
  }
  return { body: checked.body === null ? null : await checked.body.buffer() };
}

function sendsBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined ? declared !== '0' : req.headers['transfer-encoding'] !== undefined;
}
