import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

// The client's request body on its way upstream. The relay touches the
// client's stream only once the upstream connection asks for the first
// bytes, so a request whose connection was refused can go to another
// upstream with its body intact; and when the upstream attempt fails, the
// relay is destroyed, never the client's request (that would close the
// client's connection before it got its 502). Backpressure passes through:
// the client is paused while the upstream is not reading.

class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

export class BodyRelay extends Readable {
  /** Whether the upstream began reading the client's body. */
  started = false;
  tooLarge = false;
  private bytes = 0;

  constructor(
    private readonly source: IncomingMessage,
    private readonly limit: number | null,
    /** Called when the upstream first asks for the body (to send 100 Continue). */
    private readonly onStart: (() => void) | null = null,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.onStart?.();
      const { source } = this;
      if (source.readableEnded) {
        this.push(null);
        return;
      }
      source.on('data', this.onData);
      source.once('end', this.onEnd);
      source.once('error', this.onError);
      source.once('close', this.onClose);
    }
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.detach();
    callback(error);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.bytes += chunk.length;
    if (this.limit !== null && this.bytes > this.limit) {
      this.tooLarge = true;
      this.detach();
      this.destroy(new BodyTooLargeError(`The request body is over ${this.limit} bytes`));
      return;
    }
    if (!this.push(chunk)) this.source.pause();
  };

  private readonly onEnd = (): void => {
    this.detach();
    this.push(null);
  };

  private readonly onError = (error: Error): void => {
    this.destroy(error);
  };

  private readonly onClose = (): void => {
    // The client hung up mid-body: the upstream must not see a short body as complete.
    if (!this.source.complete) this.destroy(new Error('The client closed the connection before sending the whole body'));
  };

  private detach(): void {
    const { source } = this;
    source.off('data', this.onData);
    source.off('end', this.onEnd);
    source.off('error', this.onError);
    source.off('close', this.onClose);
    // Unread bytes stay with the client's request; an answer that goes out
    // before the body was read whole ends its connection (upstream-call.ts).
    if (!source.readableEnded) source.pause();
  }
}
