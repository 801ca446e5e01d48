import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { newRequestId } from '../gateway/exchange.js';
import { GatewayError } from '../http/errors.js';
import { safeHeaderValue } from '../http/header-values.js';

// Requests that never become requests: Node's parser refused them (bad
// syntax, headers too large, an unknown method, too slow to arrive) or they
// ask for a tunnel (CONNECT). They get the same kind of answer as everything
// else: a status and a code from the catalogue, a JSON {code, message} and an
// x-request-id; then the connection closes, since what follows on it cannot
// be trusted to be a request.

// A method token, a target and a version: a request line, whatever the method.
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/\d\.\d\r?\n/;

export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (socket as any)._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  refuse(socket, refusalFor(error));
}

/** CONNECT: the gateway is not a tunnel. */
export function answerConnect(socket: Socket): void {
  const error = new GatewayError('MethodNotAllowed', 'CONNECT is not supported: this is a gateway, not a proxy');
  refuse(socket, error.withHeaders([['allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS']]));
}

function refusalFor(error: NodeJS.ErrnoException): GatewayError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('HeadersTooLarge');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('RequestTimeout');
    case 'HPE_INVALID_METHOD':
      // RFC 9110 (9.1): a method the server does not know is 501; a line
      // that is not a request line at all is just malformed.
      if (REQUEST_LINE.test(String((error as { rawPacket?: Buffer }).rawPacket ?? ''))) return new GatewayError('NotImplemented');
      return new GatewayError('BadRequest', 'The request line is not "METHOD target HTTP/1.1"');
    default:
      return new GatewayError('BadRequest', `The request could not be parsed (${error.code ?? 'malformed'})`);
  }
}

function refuse(socket: Socket, error: GatewayError): void {
  const { type, text } = error.body();
  let extra = '';
  for (const [name, value] of error.headers ?? []) extra += `${name}: ${safeHeaderValue(value)}\r\n`;
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
      `X-Request-Id: ${newRequestId()}\r\n${extra}Connection: close\r\n\r\n${text}`,
  );
}
