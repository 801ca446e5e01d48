import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';

// Request bodies of the function API: JSON only, as in Convex, and small
// (16 MiB of arguments plus envelope).

export const MAX_API_BODY = 16 * 1024 * 1024 + 2000;

export async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
    throw new GatewayError('BadJsonBody', 'Expected request with `Content-Type: application/json`');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_API_BODY) throw GatewayError.payloadTooLarge(MAX_API_BODY);
  const buffer = await new IncomingBody(req, res, MAX_API_BODY).buffer();
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (error) {
    throw new GatewayError('BadJsonBody', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}
