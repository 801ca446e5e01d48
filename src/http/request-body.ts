import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from './errors.js';

// The body of one incoming request, read at most once and never past its
// limit. The gateway refuses a declared Content-Length over the limit before
// the handler runs; this class enforces the limit on bodies of unknown size
// (chunked) as they arrive, and remembers the overflow so the gateway answers
// 413 even if the handler swallowed the error.
export class IncomingBody {
  /** True once the body went over the limit. */
  tooLarge = false;
  private used = false;
  private finished = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly limit: number,
  ) {}

  get bodyUsed(): boolean {
    return this.used;
  }

  /** True when every byte the client sent was read (or there were none). */
  get fullyRead(): boolean {
    return this.finished || this.req.complete;
  }

  /** The whole body as one Buffer. */
  buffer(): Promise<Buffer> {
    this.claim();
    const { req, limit } = this;
    // With a declared length (already checked against the limit) the bytes
    // go straight into one buffer of that size: no chunk list, no second copy.
    const declared = Number(req.headers['content-length']);
    const whole = Number.isSafeInteger(declared) && declared > 0 && declared <= limit ? Buffer.allocUnsafe(declared) : null;
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      const onData = (chunk: Buffer) => {
        if (whole !== null && total + chunk.length <= whole.length) chunk.copy(whole, total);
        else chunks.push(chunk);
        total += chunk.length;
        if (total > limit) {
          cleanup();
          reject(this.overflow());
        }
      };
      const onEnd = () => {
        cleanup();
        this.finished = true;
        if (whole !== null) resolve(total === whole.length ? whole : whole.subarray(0, total));
        else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      };
      const onClose = () => {
        cleanup();
        reject(clientGone());
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const cleanup = () => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('close', onClose);
        req.off('error', onError);
      };
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('close', onClose);
      req.on('error', onError);
    });
  }

  /** The body as a WHATWG stream, pulled from the socket as it is read. */
  stream(): ReadableStream<Uint8Array> {
    this.claim();
    const { req, limit } = this;
    let total = 0;
    let done = false;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          req.pause();
          req.on('data', (chunk: Buffer) => {
            if (done) return;
            total += chunk.length;
            if (total > limit) {
              done = true;
              req.pause();
              controller.error(this.overflow());
              return;
            }
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
            if ((controller.desiredSize ?? 0) <= 0) req.pause();
          });
          req.once('end', () => {
            if (done) return;
            done = true;
            this.finished = true;
            controller.close();
          });
          req.once('close', () => {
            if (done) return;
            done = true;
            controller.error(clientGone());
          });
          req.once('error', (error) => {
            if (done) return;
            done = true;
            controller.error(error);
          });
        },
        pull: () => {
          req.resume();
        },
        cancel: () => {
          done = true;
          req.pause();
        },
      },
      { highWaterMark: 65_536, size: (chunk) => chunk.byteLength },
    );
  }

  private claim(): void {
    if (this.used) throw new TypeError('Body is unusable: Body has already been read');
    this.used = true;
    // A client that asked `Expect: 100-continue` sends the body only once
    // told to; the gateway tells it only when someone reads the body.
    if (expectsContinue(this.req) && !this.res.headersSent) this.res.writeContinue();
  }

  private overflow(): GatewayError {
    this.tooLarge = true;
    // Stop reading: nothing past the limit is buffered, and the gateway
    // closes the connection after its 413 instead of draining the rest.
    this.req.pause();
    return GatewayError.payloadTooLarge(this.limit);
  }
}

const EXPECTS_CONTINUE = Symbol('portico.expectsContinue');

/** Marks a request the server received through 'checkContinue'. */
export function markExpectsContinue(req: IncomingMessage): void {
  (req as any)[EXPECTS_CONTINUE] = true;
}

function expectsContinue(req: IncomingMessage): boolean {
  return (req as any)[EXPECTS_CONTINUE] === true;
}

function clientGone(): Error {
  const error = new Error('The client closed the connection before sending the whole body');
  error.name = 'AbortError';
  return error;
}
