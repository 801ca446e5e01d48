import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { PorticoConfig } from '../config/types.js';
import { markExpectsContinue } from '../http/request-body.js';
import { answerClientError, answerConnect } from './unparsable-requests.js';
import { createRedirectServer, TlsFront } from './listeners.js';
import { TurnBatch } from './turn-batch.js';
import type { SecureContextOptions } from 'node:tls';

/** server.tls, loaded: the secure context and what the listener offers. */
export interface HostTls {
  secure: SecureContextOptions;
  http2: boolean;
  redirectPort: number | null;
}

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
  private stopped: Promise<boolean> | null = null;
  // Open connections, to reach the responses in progress when a stop begins
  // (tracked per connection, not per request, to keep the hot path bare).
  private readonly sockets = new Set<Socket>();
  /** With server.tls: the TLS listener in front of `server` (which then never listens itself). */
  private readonly front: TlsFront | null = null;
  private redirect: http.Server | null = null;

  constructor(
    public current: Gateway,
    private readonly logger: Logger,
    private readonly tls: HostTls | null = null,
  ) {
    const { inFlight } = this;
    const handle = (req: http.IncomingMessage, res: http.ServerResponse, arrived: number) => {
      let handled: Promise<void> | void = undefined;
      try {
        handled = this.current.handle(req, res, arrived);
      } catch (error) {
        // Gateway.handle answers its own failures; this is the net under it,
        // so one request cannot take the rest of its batch down with it.
        this.logger.error({ err: error }, 'request handling failed');
        res.destroy();
      }
      if (handled) handled.then(inFlight.end, inFlight.end);
      else inFlight.end();
    };
    const turn = new TurnBatch(handle);
    const callback = (req: http.IncomingMessage, res: http.ServerResponse) => {
      inFlight.begin();
      // A request that came on a kept-alive connection during the stop is
      // served, and its connection ends with it.
      if (this.stopping) res.shouldKeepAlive = false;
      turn.add(req, res);
    };
    // The gateway answers a missing Host itself, with a code and a request id.
    this.server = http.createServer({ requireHostHeader: false, ...slowClientLimits(current.config.server) }, callback);
    // Past this many open connections Node closes new ones on arrival.
    this.server.maxConnections = current.config.server.maxConnections;
    const perClient = current.config.server.maxConnectionsPerClient;
    const byClient = new Map<string, number>();
    const admit = (socket: Socket) => perClient === null || this.admitClient(socket, perClient, byClient);
    if (tls) {
      const checkContinue = (req: http.IncomingMessage, res: http.ServerResponse) => {
        markExpectsContinue(req);
        callback(req, res);
      };
      this.front = new TlsFront(this.server, callback, { secure: tls.secure, http2: tls.http2, admit, checkContinue, idleTimeoutMs: current.config.server.keepAliveTimeoutMs });
      this.front.maxConnections = current.config.server.maxConnections;
    }
    this.server.on('connection', (socket: Socket) => {
      // Behind the TLS listener, its raw connection was the one admitted.
      if (!this.front && !admit(socket)) return;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Requests with `Expect: 100-continue` go through the same path; the
    // body reader sends 100 Continue only if the handler reads the body.
    this.server.on('checkContinue', (req, res) => {
      markExpectsContinue(req);
      callback(req, res);
    });
    this.server.on('clientError', (error, socket) => answerClientError(error as NodeJS.ErrnoException, socket as Socket));
    this.server.on('connect', (_req, socket: Socket) => answerConnect(socket));
    // WebSocket pass-through on proxy routes; other upgrade requests are served as plain requests.
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.current.upgrade(req, socket, head, callback));
  }

  /**
   * One client address may hold `limit` connections: a client that opens
   * sockets and trickles bytes into them (Slowloris) takes its own share, not
   * the server's. Trusted proxies carry many clients and are not counted.
   */
  private admitClient(socket: Socket, limit: number, byClient: Map<string, number>): boolean {
    const address = socket.remoteAddress;
    if (address === undefined || this.current.forwarding.isTrustedProxy(address)) return true;
    const open = byClient.get(address) ?? 0;
    if (open >= limit) {
      socket.destroy();
      return false;
    }
    byClient.set(address, open + 1);
    socket.once('close', () => {
      const left = byClient.get(address)! - 1;
      if (left === 0) byClient.delete(address);
      else byClient.set(address, left);
    });
    return true;
  }

  /** `https` with server.tls. */
  get scheme(): 'http' | 'https' {
    return this.front ? 'https' : 'http';
  }

  /** Certificate rotation: new connections get `secure`, open ones are left as they are. */
  setSecureContext(secure: SecureContextOptions): void {
    if (!this.front) throw new Error('server.tls is not on: no certificate to rotate');
    this.front.setSecureContext(secure);
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    if (!this.front) return this.listenPlain(port, host);
    const address = await this.front.listen(port, host);
    // node:http starts its header and request timers, and tracks idle
    // connections, when it listens; here the TLS listener hands it sockets.
    this.server.emit('listening');
    if (this.tls?.redirectPort != null) {
      const base = this.current.config.server.publicUrl;
      this.redirect = createRedirectServer({ base: base?.startsWith('https://') ? base : null, httpsPort: () => address.port });
      await new Promise<void>((resolve, reject) => {
        this.redirect!.once('error', reject);
        this.redirect!.listen(this.tls!.redirectPort!, host, () => resolve());
      }).catch(async (error) => {
        await new Promise((resolve) => this.front!.server.close(resolve));
        throw error;
      });
    }
    return address;
  }

  /** The redirect listener's address, when server.tls.redirectPort is set. */
  get redirectAddress(): AddressInfo | null {
    return (this.redirect?.address() as AddressInfo | null) ?? null;
  }

  private listenPlain(port: number, host: string): Promise<AddressInfo> {
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
   * flight to finish and their connections to close. Returns whether every
   * request finished in time.
   *
   * Node keeps a connection alive after a response unless told otherwise, and
   * a client reuses it at once; a request sent that way while the process is
   * exiting would be lost. So each response still to come says
   * `Connection: close`, idle connections are closed now, and the stop ends
   * only when no connection is left.
   */
  stop(timeoutMs: number): Promise<boolean> {
    this.stopped ??= this.drain(timeoutMs);
    return this.stopped;
  }

  private async drain(timeoutMs: number): Promise<boolean> {
    this.stopping = true;
    this.redirect?.close();
    this.redirect?.closeAllConnections();
    const closed = Promise.all([new Promise<void>((resolve) => this.server.close(() => resolve())), this.front?.close()]).then(() => {});
    this.server.closeIdleConnections();
    for (const socket of this.sockets) {
      const response = (socket as any)._httpMessage as http.ServerResponse | null | undefined;
      if (response) closeWhenDone(response, socket);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = await Promise.race([Promise.all([this.inFlight.idle(), closed]).then(() => true as const), timeout]);
    clearTimeout(timer);
    if (!drained) {
      this.logger.warn({ inFlight: this.inFlight.count, connections: this.sockets.size }, 'requests still running at the end of the shutdown timeout');
      this.server.closeAllConnections();
      this.front?.destroySessions();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    }
    return drained;
  }
}

/**
 * Node's own guards against slow clients, from server.*: headers must arrive
 * within headersTimeout and the whole request within requestTimeout, or the
 * client gets 408 (unparsable-requests.ts) and the connection closes. Node
 * checks them on a timer (30 s by default, which would let a 1 s timeout run
 * to 30 s); a tenth of the shorter timeout keeps them within 10%.
 */
function slowClientLimits(server: PorticoConfig['server']): http.ServerOptions {
  const requestTimeout = server.requestTimeoutMs;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(server.headersTimeoutMs, requestTimeout);
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 10))),
  };
}

/** Makes the connection of a response in progress end with it. */
function closeWhenDone(response: http.ServerResponse, socket: Socket): void {
  // Before the head is out, Node sends `Connection: close` and closes after the body.
  if (!response.headersSent) response.shouldKeepAlive = false;
  else if (!response.writableFinished) response.once('finish', () => socket.end());
}
