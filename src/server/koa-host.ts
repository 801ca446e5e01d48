import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { markExpectsContinue } from '../http/request-body.js';

// The Koa application that hosts the gateway. Portico is one Koa middleware
// (`porticoMiddleware`), so it can also be mounted in an existing Koa app;
// `portico serve` runs it in an app of its own. The middleware reads the
// current Gateway once per request, which is what makes a reload atomic: a
// swap changes one reference, and a request keeps the Gateway it started on.

export interface GatewayHolder {
  current: Gateway;
}

/** Portico as a Koa middleware. It answers every request it is given. */
export function porticoMiddleware(holder: GatewayHolder, tracker?: InFlight): Koa.Middleware {
  return function portico(ctx) {
    // The gateway writes to the Node response itself: Koa's body handling
    // would cost a second pass over every response.
    ctx.respond = false;
    const gateway = holder.current;
    if (!tracker) return gateway.handle(ctx.req, ctx.res);
    tracker.begin();
    return gateway.handle(ctx.req, ctx.res).finally(tracker.end);
  };
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

export class KoaHost implements GatewayHolder {
  readonly app = new Koa();
  readonly server: http.Server;
  readonly inFlight = new InFlight();
  private stopping = false;

  constructor(
    public current: Gateway,
    private readonly logger: Logger,
  ) {
    this.app.use(porticoMiddleware(this, this.inFlight));
    // Koa would print errors itself; the gateway already logged them.
    this.app.silent = true;
    const callback = this.app.callback();
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
