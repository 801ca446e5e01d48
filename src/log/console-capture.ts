import { AsyncLocalStorage } from 'node:async_hooks';
import { format, inspect } from 'node:util';
import type { Logger } from 'pino';

// `console.*` inside a handler or function becomes a log line tied to the
// request id, and (for the function API) a Convex-style `logLines` entry.
//
// Attribution across awaits needs AsyncLocalStorage, and on Node 20 enabling
// it slows every promise in the process (measured: -18% requests/s on a
// hello-world handler). So the scope is only entered when the loaded user
// code calls `console` at all (decided once per load, see enableAttribution);
// otherwise console output still reaches the log, without a request id.

export interface LogScope {
  requestId: string;
  /** The function or route the code belongs to. */
  source: string;
  /** Collected Convex-style lines (`[LOG] 'hi'`), when the caller wants them. */
  lines: string[] | null;
  /** Set once the code logged anything (a cached query result would lose its lines). */
  logged?: boolean;
}

const storage = new AsyncLocalStorage<LogScope>();
let attribution = false;
let logger: Logger | null = null;

const LEVELS = {
  log: ['info', 'LOG'],
  info: ['info', 'INFO'],
  debug: ['debug', 'DEBUG'],
  warn: ['warn', 'WARN'],
  error: ['error', 'ERROR'],
} as const;

/**
 * The `console` of the user's functions and handlers: their bundle binds the
 * name to this object (functions/bundle.ts, http/fetch-globals.ts), so the
 * process's own console, and that of an app embedding Portico, is left as
 * it was. Methods not captured below are the real console's.
 */
export const capturedConsole: Console = Object.create(console);

/**
 * Routes capturedConsole's log methods through `target` for the rest of the
 * process. Before a logger exists (user modules load before the config names
 * one), their output goes to stderr, so stdout carries only JSON lines or a
 * command's result.
 */
export function installConsoleCapture(target?: Logger): void {
  if (target) logger = target;
  if ((capturedConsole as any)[CAPTURED]) return;
  (capturedConsole as any)[CAPTURED] = true;
  for (const method of Object.keys(LEVELS) as (keyof typeof LEVELS)[]) {
    const [pinoLevel, convexLevel] = LEVELS[method];
    capturedConsole[method] = (...args: unknown[]) => {
      const scope = attribution ? storage.getStore() : undefined;
      if (scope) scope.logged = true;
      if (scope?.lines) scope.lines.push(`[${convexLevel}] ${args.map(convexFormat).join(' ')}`);
      const line = format(...args);
      if (logger) {
        if (scope) logger[pinoLevel]({ reqId: scope.requestId, source: scope.source, console: method }, line);
        else logger[pinoLevel]({ console: method }, line);
      } else {
        process.stderr.write(`${line}\n`);
      }
    };
  }
}
const CAPTURED = Symbol.for('portico.consoleCaptured');

/** Turns on request attribution; called when loaded user code uses console. */
export function enableAttribution(): void {
  attribution = true;
}

export function attributionEnabled(): boolean {
  return attribution;
}

/**
 * Runs `fn` inside a log scope. Without attribution the scope is skipped
 * (there is nothing to attribute) and `fn` runs as is.
 */
export function runInLogScope<T>(scope: LogScope, fn: () => T): T {
  return attribution ? storage.run(scope, fn) : fn();
}

// Convex prints strings inside log lines quoted, like util.inspect.
function convexFormat(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Infinity });
}
