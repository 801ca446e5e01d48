import { isConvexError } from '../values/errors.js';
import { convexToJson, type JSONValue, type Value } from '../values/value.js';

// How an error thrown by user code is described to a client, as Convex
// describes it: `Uncaught Error: boom` and the user's stack frames. Shared by
// the HTTP action's 500 (gateway/handler-errors.ts) and a failed call's
// errorMessage (backends/local/call-errors.ts).

// A failed call reported by the backend (`ctx.runQuery` and co.) comes back as
// its errorMessage: `[Request ID: <id>] Server Error`, then, outside
// production, `\n<Uncaught ...>\n<frames>`. The error ctx.run* throws keeps
// that message (what user code that catches it sees, as in Convex), and
// remembers the callee's own report, so that an action that lets it escape
// is reported once: `Server Error: Uncaught Error: boom`, not the callee's
// request id and "Server Error" a second time inside its own.
const CALLEE_REPORT = Symbol('portico.calleeReport');
const REPORT = /^\[Request ID: [^\]\n]*\] Server Error\n(Uncaught [^\n]*)((?:\n[\s\S]*)?)$/;

/** The error `ctx.runQuery/runMutation/runAction` throws for a call that failed with `errorMessage`. */
export function calleeFailure(errorMessage: string): Error {
  const error = new Error(errorMessage);
  const report = REPORT.exec(errorMessage);
  if (report !== null) (error as { [CALLEE_REPORT]?: { uncaught: string; frames: string } })[CALLEE_REPORT] = { uncaught: report[1]!, frames: report[2]! };
  return error;
}

function calleeReport(error: unknown): { uncaught: string; frames: string } | undefined {
  return typeof error === 'object' && error !== null ? (error as { [CALLEE_REPORT]?: { uncaught: string; frames: string } })[CALLEE_REPORT] : undefined;
}

/** "Uncaught Error: boom": the error's name and message as Convex prints them. */
export function uncaughtMessage(error: unknown): string {
  const callee = calleeReport(error);
  if (callee !== undefined) return callee.uncaught;
  if (error instanceof Error) return `Uncaught ${error.name}: ${error.message}`;
  if (isConvexError(error)) return `Uncaught ConvexError: ${(error as Error).message}`;
  return `Uncaught ${typeof error === 'string' ? error : safeString(error)}`;
}

/** The encoded data of a ConvexError, or undefined. */
export function errorData(error: unknown): JSONValue | undefined {
  if (!isConvexError(error)) return undefined;
  try {
    return convexToJson((error as { data: Value }).data);
  } catch {
    return null;
  }
}

/**
 * The stack frames below the message, without the gateway's own frames and
 * Node internals: what is left points at the user's code (source-mapped).
 * For a failed call, the callee's frames come first, then the caller's.
 */
export function userFrames(error: unknown): string {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  const callee = calleeReport(error);
  // The callee's report is also the head of this error's stack: its frames are read from the report alone.
  const own = callee !== undefined ? stack.slice(stack.indexOf((error as Error).message) + (error as Error).message.length) : stack;
  const frames = own
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes('node:internal') && !OWN_CODE.some((dir) => line.includes(dir)));
  const calleeFrames = callee?.frames ?? '';
  return `${calleeFrames}${frames.length > 0 ? `\n${frames.join('\n')}` : ''}`;
}

// Portico's own folders, whether it runs from src/ (tsx) or dist/.
const OWN_CODE = [new URL('..', import.meta.url).pathname];

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
