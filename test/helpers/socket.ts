import net from 'node:net';

// A client socket driven step by step, for exchanges a one-shot request
// cannot express: wait for `100 Continue` before sending a body, send part
// of a body and read the answer, or read until the server closes to see
// every byte it sent (nothing after a 204's head, say).

export class StepSocket {
  private received = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  readonly closed: Promise<{ error: Error | null }>;

  private constructor(readonly socket: net.Socket) {
    let failure: Error | null = null;
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', (error) => (failure = error));
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ error: failure });
      }),
    );
  }

  static connect(port: number): Promise<StepSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new StepSocket(socket)));
      socket.once('error', reject);
    });
  }

  /** Everything received so far, as latin1 text (bytes preserved one per char). */
  text(): string {
    return this.received.toString('latin1');
  }

  bytes(): Buffer {
    return this.received;
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(data, (error) => (error ? reject(error) : resolve())));
  }

  /** Resolves once the received text satisfies `ready`; rejects after `timeoutMs` or on close without it. */
  async waitFor(ready: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = this.text();
      if (ready(text)) return text;
      if (this.socket.destroyed) throw new Error(`the socket closed; received:\n${text}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; received:\n${text}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Waits for the server to close the connection; resolves with everything received. */
  async untilClosed(timeoutMs = 10_000): Promise<{ text: string; error: Error | null }> {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms; received:\n${this.text()}`)), timeoutMs).unref());
    const { error } = await Promise.race([this.closed, timer]);
    return { text: this.text(), error };
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Splits a raw HTTP/1.1 response into status, headers (lowercase names, repeated ones joined by \n) and the rest. */
export function parseHead(raw: string): { status: number; statusText: string; headers: Record<string, string>; rest: string } {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in:\n${raw}`);
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine!);
  if (!match) throw new Error(`not a status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}\n${value}` : value;
  }
  return { status: Number(match[1]), statusText: match[2]!, headers, rest: raw.slice(end + 4) };
}
