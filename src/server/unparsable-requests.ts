import type { Socket } from 'node:net';
import { newRequestId } from '../gateway/exchange.js';

// Requests that never become requests: Node's parser refused them (bad
// syntax, headers too large, an unknown method) or they ask for a tunnel
// (CONNECT). They get the same kind of answer as everything else: a status,
// a JSON {code, message} and an x-request-id; then the connection closes,
// since what follows on it cannot be trusted to be a request.

// A method token, a target and a version: a request line, whatever the method.
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/\d\.\d\r?\n/;

interface Refusal {
  status: number;
  reason: string;
  code: string;
  message: string;
  headers?: string;
}

export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (socket as any)._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  refuse(socket, refusalFor(error));
}

/** CONNECT: the gateway is not a tunnel. */
export function answerConnect(socket: Socket): void {
  refuse(socket, {
    status: 405,
    reason: 'Method Not Allowed',
    code: 'MethodNotAllowed',
    message: 'CONNECT is not supported: this is a gateway, not a proxy',
    headers: 'Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n',
  });
}

function refusalFor(error: NodeJS.ErrnoException): Refusal {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, reason: 'Request Header Fields Too Large', code: 'HeadersTooLarge', message: 'The request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, reason: 'Request Timeout', code: 'RequestTimeout', message: 'The request took too long to arrive' };
    case 'HPE_INVALID_METHOD':
      // RFC 9110 (9.1): a method the server does not know is 501; a line
      // that is not a request line at all is just malformed.
      if (REQUEST_LINE.test(String((error as { rawPacket?: Buffer }).rawPacket ?? ''))) {
        return { status: 501, reason: 'Not Implemented', code: 'NotImplemented', message: 'Unknown request method (supported: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)' };
      }
      return { status: 400, reason: 'Bad Request', code: 'BadRequest', message: 'The request line is not "METHOD target HTTP/1.1"' };
    default:
      return { status: 400, reason: 'Bad Request', code: 'BadRequest', message: `The request could not be parsed (${error.code ?? 'malformed'})` };
  }
}

function refuse(socket: Socket, refusal: Refusal): void {
  const body = JSON.stringify({ code: refusal.code, message: refusal.message });
  socket.end(
    `HTTP/1.1 ${refusal.status} ${refusal.reason}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${newRequestId()}\r\n${refusal.headers ?? ''}Connection: close\r\n\r\n${body}`,
  );
}
