import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ProxyConfig } from '../config/types.js';
import { GatewayError } from '../http/errors.js';
import type { Forwarding } from '../http/forwarding.js';
import { BodyRelay } from './body-relay.js';
import { requestHeaderPlan, upstreamRequestHeaders, type RequestHeaderPlan } from './hop-headers.js';
import { ClientGone, clientLeft, UpstreamCall } from './upstream-call.js';
import { compileTargetPath, type TargetPath } from './target-path.js';
import { UpstreamSet, type FailureKind, type Upstream } from './upstream-set.js';

// A proxy route: the request goes to one of the route's upstreams and the
// answer comes back, both bodies streamed with backpressure (never held
// whole; the one exception is a request body a body schema had to read
// first, which is sent as the checked bytes). Everything per route (target
// path, header plan, upstream set and pools) is prepared once here;
// `forward` is the per-request path.
//
// Failures: a refused connection sends the request to the next upstream
// (nothing reached the refusing one, so any method may go on, as long as
// its body was not read yet); a connection that breaks before the answer
// is retried, up to `retries` times, for idempotent methods without a
// streamed body; no answer within the timeout is 504, every other failure 502.
// A client that hangs up aborts the upstream request.

/** What the gateway knows of the request it forwards. */
export interface ProxyExchange {
  requestId: string;
  /** Headers every answer carries (x-request-id, the gateway's CORS headers). */
  headers: readonly string[];
  vary: boolean;
}

/** Answers with a catalogue error (or breaks the connection if the head is out); `close` when the client's body was left unread. */
export type FailAnswer = (error: GatewayError, close: boolean) => number;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const REFUSED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const TIMED_OUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** Logged for a request whose client hung up before it could be answered (as nginx does). */
const CLIENT_CLOSED_REQUEST = 499;

export interface ProxyRouteOptions {
  config: ProxyConfig;
  routePath: string;
  isPrefix: boolean;
  /** The route has a CORS policy: the upstream's Access-Control-* headers are replaced. */
  ownCors: boolean;
  logger: Logger;
}

export class ProxyRoute {
  readonly set: UpstreamSet;
  private readonly targets: Map<Upstream, TargetPath>;
  private readonly plan: RequestHeaderPlan;
  private readonly config: ProxyConfig;
  private readonly ownCors: boolean;
  private readonly logger: Logger;

  constructor({ config, routePath, isPrefix, ownCors, logger }: ProxyRouteOptions) {
    this.config = config;
    this.ownCors = ownCors;
    this.logger = logger;
    this.set = new UpstreamSet(config.upstreams, config.ejectAfter, config.cooldownMs);
    this.targets = new Map(
      this.set.upstreams.map((upstream) => [
        upstream,
        compileTargetPath({ routePath, isPrefix, stripPrefix: config.stripPrefix, rewrite: config.rewrite, basePath: upstream.basePath }),
      ]),
    );
    this.plan = requestHeaderPlan(config.removeHeaders, config.addHeaders, config.preserveHost);
  }

  /** Whether WebSocket upgrades pass through this route. */
  get websocket(): boolean {
    return this.config.websocket;
  }

  /**
   * Forwards one request; resolves with the status the client was sent (499 when it hung up).
   * `checked` is a body already read (and checked against a body schema): those bytes go
   * upstream with their own Content-Length, instead of the client's body streaming through.
   */
  async forward(req: IncomingMessage, res: ServerResponse, params: Record<string, string>, exchange: ProxyExchange, forwarding: Forwarding, fail: FailAnswer, checked: Buffer | null = null): Promise<number> {
    const method = req.method!;
    const declared = req.headers['content-length'];
    const hasBody = checked === null && (declared !== undefined ? declared !== '0' : req.headers['transfer-encoding'] !== undefined);
    const limit = this.config.bodyLimit;
    if (hasBody && limit !== null && declared !== undefined && Number(declared) > limit) return fail(GatewayError.payloadTooLarge(limit), true);

    const headers = upstreamRequestHeaders(req, this.plan, forwarding, exchange.requestId);
    if (checked !== null) setContentLength(headers, checked.length);
    const expectsContinue = req.headers.expect?.toLowerCase() === '100-continue';
    // A client that left before this point (during auth, a schema check,
    // middleware, or while its request waited for its turn) sent its 'close'
    // already: nobody is waiting for an answer.
    if (clientLeft(req, res)) {
      res.destroy();
      return CLIENT_CLOSED_REQUEST;
    }
    // 'close' also follows a complete answer (with bytes still in the socket's
    // buffer): only an answer not yet ended means the client left early.
    const gone = new ClientGone();
    res.once('close', () => {
      if (!res.writableEnded) gone.fire();
    });

    let retriesLeft = IDEMPOTENT.has(method) ? this.config.retries : 0;
    let tried: Set<Upstream> | null = null;
    let upstream = this.set.pick(null)!;
    for (;;) {
      // A client waiting for 100 Continue sends its body once the upstream wants it.
      const relay = hasBody ? new BodyRelay(req, limit, expectsContinue ? () => !res.headersSent && res.writeContinue() : null) : null;
      const call = new UpstreamCall(req, res, this.ownCors, exchange, gone, relay !== null);
      upstream.pool.dispatch(
        {
          path: this.targets.get(upstream)!(req.url!, params),
          method: method as Dispatcher.HttpMethod,
          headers,
          body: checked ?? relay,
          headersTimeout: this.config.timeoutMs,
          bodyTimeout: this.config.timeoutMs,
        },
        call,
      );
      const outcome = await call.outcome;
      if (outcome.kind === 'relayed') {
        this.set.succeeded(upstream);
        return outcome.status;
      }
      if (outcome.kind === 'client-gone') return CLIENT_CLOSED_REQUEST;
      // The gateway's own failure (a head Node refused): a 500, and the upstream is not blamed.
      if (outcome.kind === 'local-error') throw outcome.error;
      if (outcome.kind === 'broken') {
        // The head was out: the answer was cut short, and nothing can be retried.
        this.failed(upstream, failureKind(outcome.error), outcome.error, exchange.requestId);
        return outcome.status;
      }
      const { error } = outcome;
      if (relay?.tooLarge) return fail(GatewayError.payloadTooLarge(limit!), true);
      const kind = failureKind(error);
      this.failed(upstream, kind, error, exchange.requestId);
      if (kind === 'timeout') {
        return fail(new GatewayError('Timeout', `The upstream did not answer within ${this.config.timeoutMs} ms`), relay !== null && !req.complete);
      }
      // Checked bytes in memory can be sent again; a streamed body only while the upstream has not begun reading it.
      const bodyUntouched = relay === null || !relay.started;
      let next: Upstream | null = null;
      if (bodyUntouched && (kind === 'refused' || retriesLeft > 0)) {
        (tried ??= new Set()).add(upstream);
        next = this.set.pick(tried) ?? (kind === 'refused' ? null : upstream);
        if (next !== null && (kind !== 'refused' || next === upstream)) retriesLeft -= 1;
        if (retriesLeft < 0) next = null;
      }
      if (next === null) {
        const what = kind === 'refused' ? 'could not be reached' : 'broke off before answering';
        return fail(new GatewayError('BadGateway', `The upstream ${what} (${describe(error)})`), relay !== null && !req.complete);
      }
      upstream = next;
    }
  }

  /**
   * A WebSocket upgrade: the handshake goes to the next upstream in turn
   * (another one if it refuses the connection), the upstream's 101 goes back
   * with the gateway's request id and CORS headers, and then the two sockets
   * are joined until either side closes. Resolves with the status sent.
   */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, params: Record<string, string>, exchange: ProxyExchange, forwarding: Forwarding, fail: FailAnswer): Promise<number> {
    const headers = upstreamRequestHeaders(req, this.plan, forwarding, exchange.requestId);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    socket.once('close', onClose);
    let tried: Set<Upstream> | null = null;
    let upstream: Upstream | null = this.set.pick(null)!;
    let answer: Dispatcher.UpgradeData;
    for (;;) {
      try {
        answer = await upstream.pool.upgrade({ path: this.targets.get(upstream)!(req.url!, params), method: 'GET', headers, protocol: 'websocket', signal: abort.signal });
        break;
      } catch (error) {
        if (abort.signal.aborted) return CLIENT_CLOSED_REQUEST;
        const kind = failureKind(error);
        this.failed(upstream, kind, error, exchange.requestId);
        upstream = kind === 'refused' ? this.set.pick((tried ??= new Set()).add(upstream)) : null;
        if (upstream === null) return fail(new GatewayError('BadGateway', `The upstream did not accept the WebSocket (${describe(error)})`), false);
      }
    }
    socket.off('close', onClose);
    this.set.succeeded(upstream);
    const tunnel = answer.socket;
    if (socket.destroyed) {
      tunnel.destroy();
      return CLIENT_CLOSED_REQUEST;
    }
    let text = 'HTTP/1.1 101 Switching Protocols\r\n';
    for (const name in answer.headers) {
      const value = answer.headers[name];
      if (value === undefined || name === 'x-request-id' || (this.ownCors && name.startsWith('access-control-'))) continue;
      for (const one of Array.isArray(value) ? value : [value]) text += `${name}: ${one}\r\n`;
    }
    for (let i = 0; i + 1 < exchange.headers.length; i += 2) text += `${exchange.headers[i]}: ${exchange.headers[i + 1]}\r\n`;
    socket.write(`${text}\r\n`);
    if (head.length > 0) tunnel.write(head);
    const close = () => {
      socket.destroy();
      tunnel.destroy();
    };
    socket.on('error', close).on('close', close);
    tunnel.on('error', close).on('close', close);
    tunnel.pipe(socket);
    socket.pipe(tunnel);
    return 101;
  }

  private failed(upstream: Upstream, kind: FailureKind, error: unknown, requestId: string): void {
    const wasIn = upstream.ejectedUntil <= Date.now();
    this.set.failed(upstream, kind);
    const ejected = wasIn && upstream.ejectedUntil > Date.now();
    this.logger.warn(
      { reqId: requestId, upstream: upstream.url, failure: kind, err: describe(error), ...(ejected ? { ejectedForMs: this.config.cooldownMs } : {}) },
      ejected ? 'upstream taken out of rotation' : 'upstream request failed',
    );
  }
}

/** Replaces the client's Content-Length (if any) in a flat header list with the length of the bytes actually sent. */
function setContentLength(headers: string[], length: number): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.toLowerCase() === 'content-length') headers.splice(i, 2);
  }
  headers.push('content-length', String(length));
}


function failureKind(error: unknown): FailureKind {
  const code = (error as { code?: string })?.code;
  if (code !== undefined && REFUSED.has(code)) return 'refused';
  if (code !== undefined && TIMED_OUT.has(code)) return 'timeout';
  return 'broken';
}

function describe(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code ? `${code}: ${message}` : String(message ?? error);
}
