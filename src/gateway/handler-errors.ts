import type { JSONValue } from '../values/value.js';
import { errorData, uncaughtMessage, userFrames } from '../http/uncaught.js';

// How a failure inside user code is shown, as Convex shows it:
//   development  {"code": "[Request ID: <id>] Server Error: Uncaught Error: boom", "trace": "Uncaught Error: boom\n    at ..."}
//   production   {"code": "[Request ID: <id>] Server Error"}
// plus "data" when a ConvexError carried data (it is meant for clients, so
// it survives redaction).

export { errorData, uncaughtMessage, userFrames } from '../http/uncaught.js';

export interface HandlerErrorBody {
  code: string;
  trace?: string;
  data?: JSONValue;
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
