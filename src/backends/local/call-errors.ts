import { isConvexError } from '../../values/errors.js';
import type { JSONValue } from '../../values/value.js';
import { errorData, uncaughtMessage, userFrames } from '../../http/uncaught.js';

// How a failed call is reported to its caller (the function API, or
// ctx.runQuery in another function), as Convex reports it:
//  - a system refusal (unknown function, bad arguments, wrong kind) is its
//    plain message: `Could not find public function for 'x:y'.`
//  - anything the function threw is `[Request ID: <id>] Server Error`
//    followed, outside production, by `Uncaught Error: <msg>` and the
//    user's stack frames;
//  - a ConvexError also carries its data, in production too.

/** A refusal by the backend itself; its message is shown as is. */
export class FunctionCallError extends Error {
  override name = 'FunctionCallError';
}

export interface CallFailure {
  errorMessage: string;
  errorData?: JSONValue;
}

export function describeFailure(error: unknown, requestId: string, production: boolean): CallFailure {
  if (error instanceof FunctionCallError) return { errorMessage: error.message };
  let errorMessage = `[Request ID: ${requestId}] Server Error`;
  if (!production) errorMessage += `\n${uncaughtMessage(error)}${userFrames(error)}`;
  const data = isConvexError(error) ? errorData(error) : undefined;
  return data === undefined ? { errorMessage } : { errorMessage, errorData: data };
}
