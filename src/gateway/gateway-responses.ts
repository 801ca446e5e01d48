import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayError } from '../http/errors.js';
import { answerHeaders, type Exchange } from './exchange.js';
import { handlerErrorBody } from './handler-errors.js';

// The answers the gateway writes itself (404, 405, 413, 504, preflights...).
// They go straight to the Node response: no Response object, no streams.
// `headers` are flat name/value pairs (x-request-id, CORS) prepared by the caller.

export function writeJson(res: ServerResponse, status: number, body: unknown, headers: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, [...headers, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(text);
}

export function writeText(res: ServerResponse, status: number, text: string, headers: readonly string[], head = false): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, [...headers, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(text))]);
  res.end(head ? undefined : text);
}

export function writeEmpty(res: ServerResponse, status: number, headers: readonly string[]): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers as string[]);
  res.end();
}

export function writeGatewayError(res: ServerResponse, error: GatewayError, headers: readonly string[]): void {
  writeJson(res, error.status, error.toJSON(), error.headers ? [...headers, ...error.headers.flat()] : headers);
}

/**
 * Answers and then closes the connection without reading what the client
 * is still sending (a body over the limit). Closing at once could make the
 * client lose the answer while it is still writing, so the socket is given a
 * moment to drain before it is destroyed.
 */
export function closeAfterResponse(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.once('finish', () => {
    const socket = res.socket ?? res.req?.socket;
    if (!socket || socket.destroyed) return;
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}

const LINGER_MS = 2_000;

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
  logger.error({ reqId: exchange.requestId, handler: exchange.handler, err: error }, 'handler failed');
  if (res.headersSent) {
    res.destroy();
    return res.statusCode;
  }
  writeJson(res, 500, handlerErrorBody(error, exchange.requestId, production), answerHeaders(exchange));
  return 500;
}
