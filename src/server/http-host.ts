import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { markExpectsContinue } from '../http/request-body.js';

// The HTTP server that hosts a gateway. The request listener reads the
// current Gateway once per request, which is what makes a reload atomic: a
// swap changes one reference, and a request keeps the Gateway it started on.
//
// `portico serve` hosts the gateway on node:http directly. Koa's per-request
// context (three objects, an on-finished hook, its response pass) measured
// 23-30% of throughput on a hello-world route, more than all of Portico's own
// work; Portico is still a Koa middleware for apps that want one
// (koa-middleware.ts), built on the same GatewayHolder.

export interface GatewayHolder {
  current: Gateway;
}

/** Counts requests being handled, so a stop can wait for them. */
export class InFlight {
  count = 0;
  private waiters: (() => void)[] = [];
  readonly begin = () => {
    this.count += 1;
  };
  readonly end = () => {
    this.count -= 1;
    if (this.count === 0) for (const resolve of this.waiters.splice(0)) resolve();
  };
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

export class HttpHost implements GatewayHolder {
  readonly server: http.Server;
  readonly inFlight = new InFlight();
  private stopping = false;

  constructor(
    public current: Gateway,
    private readonly logger: Logger,
  ) {
    const { inFlight } = this;
    const callback = (req: http.IncomingMessage, res: http.ServerResponse) => {
      inFlight.begin();
      const handled = this.current.handle(req, res);
      if (handled) handled.then(inFlight.end, inFlight.end);
      else inFlight.end();
    };
    this.server = http.createServer(callback);
    // Requests with `Expect: 100-continue` go through the same path; the
    // body reader sends 100 Continue only if the handler reads the body.
    this.server.on('checkContinue', (req, res) => {
      markExpectsContinue(req);
      callback(req, res);
    });
    this.server.on('clientError', (error, socket) => answerClientError(error as NodeJS.ErrnoException, socket as Socket));
    this.server.on('connect', (_req, socket: Socket) => {
      socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Swaps in a new compiled gateway; requests in flight keep the old one. */
  swap(next: Gateway): void {
    this.current = next;
  }

  /**
   * Stops accepting connections and waits (up to `timeoutMs`) for requests in
   * flight to finish. Returns whether every request finished in time.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    if (this.stopping) return this.inFlight.idle().then(() => true);
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive connections with no request in progress would hold close()
    // open; in-progress ones get `Connection: close` on their response.
    this.server.closeIdleConnections();
    const timer = new Promise<false>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
    const drained = await Promise.race([this.inFlight.idle().then(() => true as const), timer]);
    if (!drained) {
      this.logger.warn({ inFlight: this.inFlight.count }, 'requests still running at the end of the shutdown timeout');
      this.server.closeAllConnections();
    }
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    return drained;
  }
}

/** A request Node could not parse: a JSON answer with a code, then close. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || (socket as any)._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const timeout = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const [status, reason, code] = tooLarge
    ? [431, 'Request Header Fields Too Large', 'HeadersTooLarge']
    : timeout
      ? [408, 'Request Timeout', 'RequestTimeout']
      : [400, 'Bad Request', 'BadRequest'];
  const body = JSON.stringify({ code, message: tooLarge ? 'The request headers are too large' : timeout ? 'The request took too long to arrive' : `The request could not be parsed (${error.code ?? 'malformed'})` });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
