import pino, { type Logger } from 'pino';
import { LineBuffer } from './line-buffer.js';
import { colourWanted, PrettyStream } from './pretty.js';

// One pino logger per process. JSON lines go to stdout through LineBuffer
// (one write per event-loop turn, not per line); on a terminal (format auto)
// or with format pretty, the same lines are printed for people (pretty.ts).

export type { Logger };

/** Where a JSON logger's lines go (absent on a pretty logger). */
export const LINE_BUFFER = Symbol('portico.lineBuffer');

export interface LoggerOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
}

export function createLogger(options: LoggerOptions): Logger {
  const prettyOutput = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = { level: options.level, base: { pid: process.pid } };
  if (prettyOutput) {
    const stream = new PrettyStream((text) => void process.stdout.write(text), colourWanted(process.stdout));
    process.once('exit', () => stream.flush());
    return pino(base, stream);
  }
  const destination = new LineBuffer(1);
  // Lines still buffered when the process ends must not be lost.
  process.once('exit', () => destination.flushSync());
  const logger = pino(base, destination);
  // For request-log.ts, which writes the per-request line itself.
  (logger as unknown as Record<symbol, LineBuffer>)[LINE_BUFFER] = destination;
  return logger;
}

/** Writes buffered lines now; used before a deliberate exit. */
export function flushLogger(logger: Logger): void {
  try {
    logger.flush();
  } catch {
    // Nothing to flush, or stdout is gone.
  }
}
