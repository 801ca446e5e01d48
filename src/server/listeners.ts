// The TLS listener in front of the gateway's HTTP server. One port, two
// protocols: the TLS handshake settles on HTTP/2 or HTTP/1.1 by ALPN, and the
// secured socket goes to the server for that protocol, node:http's for
// HTTP/1.1 (the same one, with the same limits and hooks, that serves plain
// HTTP) or node:http2's. Rotating the certificate swaps the secure context of
// this listener: connections open keep theirs, new ones get the new pair.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { Http2Request, Http2Response } from './http2-compat.js';

type Serve = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface TlsFrontOptions {
  /** Certificate, key, CA, passphrase, minimum version. */
  secure: tls.SecureContextOptions;
  http2: boolean;
  /** A new connection is admitted or destroyed (per-client limits). */
  admit: (socket: Socket) => boolean;
  /** Requests with `Expect: 100-continue`. */
  checkContinue: Serve;
  /** How long an HTTP/2 connection may stay without a stream before it is closed. */
  idleTimeoutMs: number;
}

export class TlsFront {
  readonly server: tls.Server;
  private readonly h2: http2.Http2Server | null;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(http1: http.Server, serve: Serve, options: TlsFrontOptions) {
    this.h2 = options.http2
      ? http2.createServer({ Http2ServerRequest: Http2Request, Http2ServerResponse: Http2Response } as http2.ServerOptions, serve as never)
      : null;
    if (this.h2) {
      this.h2.on('checkContinue', options.checkContinue as never);
      this.h2.on('session', (session: http2.ServerHttp2Session) => {
        this.sessions.add(session);
        // Idle: no stream open for the keep-alive time. A stream waiting on a
        // slow handler is not idle, so this is not Node's session timeout.
        let open = 0;
        session.on('stream', (stream) => {
          open += 1;
          stream.once('close', () => (open -= 1));
        });
        session.setTimeout(options.idleTimeoutMs, () => {
          if (open === 0) session.close();
        });
        session.once('close', () => this.sessions.delete(session));
        // A session's socket errors reach here; the streams on it have ended.
        session.on('error', () => {});
      });
    }
    const h2 = this.h2;
    this.server = tls.createServer({ ...options.secure, ALPNProtocols: h2 ? ['h2', 'http/1.1'] : ['http/1.1'] }, (socket: tls.TLSSocket) => {
      if (h2 && socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else http1.emit('connection', socket);
    });
    this.server.on('connection', (socket: Socket) => {
      options.admit(socket);
    });
    // A failed handshake (wrong protocol, unknown CA at the client) ends that
    // connection only; there is no request to log.
    this.server.on('tlsClientError', (_error, socket) => socket.destroy());
  }

  set maxConnections(value: number) {
    this.server.maxConnections = value;
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

  /** New connections use `secure`; open ones keep the pair they began with. */
  setSecureContext(secure: tls.SecureContextOptions): void {
    this.server.setSecureContext(secure);
  }

  /** Open HTTP/2 connections. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Stops accepting connections and asks each HTTP/2 client to go away
   * (GOAWAY): streams in progress finish, new ones go to a new connection.
   * Resolves when the listener has closed and no HTTP/2 session is left.
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sessions = [...this.sessions].map((session) => new Promise<void>((resolve) => session.close(resolve)));
    return Promise.all([closed, ...sessions]).then(() => {});
  }

  /** Ends every HTTP/2 session at once (the shutdown timeout passed). */
  destroySessions(): void {
    for (const session of this.sessions) session.destroy();
  }
}

/**
 * The plain-HTTP listener that sends every request to https: 308 (method and
 * body kept), same path and query. The target is `base` (server.publicUrl
 * when it is https) or the request's host with the https port.
 */
export function createRedirectServer(target: { base: string | null; httpsPort: () => number }): http.Server {
  return http.createServer((req, res) => {
    const path = req.url?.startsWith('/') ? req.url : '/';
    let origin = target.base;
    if (origin === null) {
      const host = hostnameOf(req.headers.host) ?? 'localhost';
      const port = target.httpsPort();
      origin = `https://${host}${port === 443 ? '' : `:${port}`}`;
    }
    const location = `${origin}${path}`;
    // Node reads the body (if any) to the end before it reuses the
    // connection; a redirect never needs it.
    res.writeHead(308, { location, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(location), connection: 'close' });
    res.end(location);
  });
}

/** The host part of a Host header, IPv6 brackets kept; null when it is not a plain host. */
function hostnameOf(host: string | undefined): string | null {
  if (!host) return null;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d+)?$/.exec(host);
  return match ? match[1]! : null;
}
