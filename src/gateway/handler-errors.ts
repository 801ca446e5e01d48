import { isConvexError } from '../values/errors.js';
import { convexToJson, type JSONValue, type Value } from '../values/value.js';

// How a failure inside user code is shown, as Convex shows it:
//   development  {"code": "[Request ID: <id>] Server Error: Uncaught Error: boom", "trace": "Uncaught Error: boom\n    at ..."}
//   production   {"code": "[Request ID: <id>] Server Error"}
// plus "data" when a ConvexError carried data (it is meant for clients, so
// it survives redaction).

export interface HandlerErrorBody {
  code: string;
  trace?: string;
  data?: JSONValue;
}

/** "Uncaught Error: boom": the error's name and message as Convex prints them. */
export function uncaughtMessage(error: unknown): string {
  if (error instanceof Error) return `Uncaught ${error.name}: ${error.message}`;
  if (isConvexError(error)) return `Uncaught ConvexError: ${(error as Error).message}`;
  return `Uncaught ${typeof error === 'string' ? error : safeString(error)}`;
}

export function handlerErrorBody(error: unknown, requestId: string, production: boolean): HandlerErrorBody {
  const body: HandlerErrorBody = { code: `[Request ID: ${requestId}] Server Error` };
  if (!production) {
    const message = uncaughtMessage(error);
    body.code += `: ${message}`;
    body.trace = `${message}${userFrames(error)}`;
  }
  const data = errorData(error);
  if (data !== undefined) body.data = data;
  return body;
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
 */
export function userFrames(error: unknown): string {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  const frames = stack
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes('node:internal') && !OWN_CODE.some((dir) => line.includes(dir)));
  return frames.length > 0 ? `\n${frames.join('\n')}` : '';
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
