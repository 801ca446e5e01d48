import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HANDLER_FAILURE_STATUS, type GatewayError } from '../http/errors.js';
import { answerHeaders, type Exchange } from './exchange.js';
import { handlerErrorBody } from './handler-errors.js';
import { writeHeadSafely } from '../http/header-values.js';
import { endStreamAfterAnswer, isHttp2 } from '../http/http2-stream.js';

// The answers the gateway writes itself (404, 405, 413, 504, preflights...).
// They go straight to the Node response: no Response object, no streams.
// `headers` are flat name/value pairs (x-request-id, CORS) prepared by the caller.

export function writeJson(res: ServerResponse, status: number, body: unknown, headers: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  writeHeadSafely(res, status, [...headers, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

export function writeText(res: ServerResponse, status: number, text: string, headers: readonly string[], head = false): void {
  if (res.headersSent || res.destroyed) return;
  writeHeadSafely(res, status, [...headers, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(head ? undefined : text);
}

export function writeEmpty(res: ServerResponse, status: number, headers: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  writeHeadSafely(res, status, headers);
  res.end();
}

export function writeGatewayError(res: ServerResponse, error: GatewayError, headers: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  const { type, text } = error.body();
  const all = error.headers ? [...headers, ...error.headers.flat()] : headers;
  writeHeadSafely(res, error.status, [...all, 'content-type', type, 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

/**
 * Answers and then closes the connection, because the client is still
 * sending a body the gateway refused (413, 401 on an upload).
 *
 * Node destroys the socket as soon as such an answer is written, and closing
 * a socket with request bytes still unread makes the kernel reset the
 * connection; a client still writing then loses the answer. So the socket
 * only half-closes: what the client keeps sending is read and dropped (never
 * buffered) until it stops, or for at most LINGER_MS, then it closes.
 */
export function closeAfterResponse(res: ServerResponse): void {
  if (isHttp2(res)) return endStreamAfterAnswer(res);
  res.shouldKeepAlive = false;
  const socket = res.socket ?? res.req?.socket;
  if (!socket || (socket as { [LINGERING]?: boolean })[LINGERING]) return;
  (socket as { [LINGERING]?: boolean })[LINGERING] = true;
  // Called by Node's server once the answer is written (res._last).
  socket.destroySoon = function lingeringClose(this: typeof socket) {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('end', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
  };
}

const LINGERING = Symbol('portico.lingering');
const LINGER_MS = 5_000;

/** Answers with a gateway error, or breaks the connection if the head is out. */
export function answerGatewayError(res: ServerResponse, exchange: Exchange, error: GatewayError): number {
  if (res.headersSent) {
    res.destroy();
    return res.statusCode;
  }
  writeGatewayError(res, error, answerHeaders(exchange));
  return error.status;
}

/** A handler threw (or returned a non-Response): logged with its stack, 500 JSON to the client. */
export function answerHandlerError(res: ServerResponse, exchange: Exchange, error: unknown, logger: Logger, production: boolean): number {
  // A client that hangs up mid-body makes the handler's read fail: that is
  // the client's doing, not a fault worth an error line with a stack.
  if (res.destroyed || res.socket?.destroyed) logger.info({ reqId: exchange.requestId, handler: exchange.handler, err: (error as Error)?.message }, 'handler failed after the client closed the connection');
  else logger.error({ reqId: exchange.requestId, handler: exchange.handler, err: error }, 'handler failed');
  if (res.headersSent) {
    res.destroy();
    return res.statusCode;
  }
  writeJson(res, HANDLER_FAILURE_STATUS, handlerErrorBody(error, exchange.requestId, production), answerHeaders(exchange));
  return HANDLER_FAILURE_STATUS;
}
