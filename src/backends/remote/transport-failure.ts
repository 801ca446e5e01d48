import { GatewayError } from '../../http/errors.js';

// Its own module because both the backend's calls and its storage (and the
// storage forwarding of api/) use it.

/** Connection errors that mean the request never reached the far side. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The catalogue error for a request to the far side that failed in transit
 * (also used by its storage forwarding): 504 past the timeout, 503 when the
 * request never left, 502 when the connection broke off after it did.
 */
export function transportFailure(error: unknown, url: string, timeoutMs: number): GatewayError {
  if ((error as Error | null)?.name === 'TimeoutError') {
    return new GatewayError('BackendTimeout', `The function backend at ${url} did not answer within ${timeoutMs} ms`);
  }
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error | null)?.message ?? String(error);
  if (cause?.code !== undefined && NOT_SENT.has(cause.code)) {
    return new GatewayError('BackendUnavailable', `The function backend at ${url} cannot be reached (${reason}); the call was not made`);
  }
  return new GatewayError('BadGateway', `The connection to the function backend at ${url} broke off before its answer was complete (${reason}); the call may or may not have run`);
}
