import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../http/errors.js';
import { writeHeadSafely } from '../http/header-values.js';
import { writeGatewayError } from './gateway-responses.js';

// GET /_portico/openapi.json: the OpenAPI document of the serving
// configuration. Open to anyone, as the API it describes is: it names
// routes, parameters and public functions, never upstream addresses or keys.

export function answerOpenApi(req: IncomingMessage, res: ServerResponse, headers: readonly string[], document: () => string): number {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const error = new GatewayError('MethodNotAllowed', `${req.method} is not allowed here; allowed: GET, HEAD`);
    writeGatewayError(res, error.withHeaders([['allow', 'GET, HEAD']]), headers);
    return error.status;
  }
  const text = document();
  writeHeadSafely(res, 200, [...headers, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(req.method === 'HEAD' ? undefined : text);
  return 200;
}
