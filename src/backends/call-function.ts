import { ConvexError } from '../values/errors.js';
import { convexToJson, jsonToConvex, type Value } from '../values/value.js';
import { functionNameOf } from '../functions/references.js';
import { calleeFailure } from '../http/uncaught.js';
import type { CallKind, Caller, FunctionBackend } from './function-backend.js';

// `ctx.runQuery / runMutation / runAction` for code running in this process:
// encode the arguments, call the backend, decode the result, and rethrow a
// failure as Convex does (a ConvexError keeps its data, anything else becomes
// an Error with the callee's message).

export async function callFunction(
  backend: FunctionBackend,
  kind: CallKind,
  reference: unknown,
  args: unknown,
  caller: Caller,
): Promise<Value> {
  const name = functionNameOf(reference);
  const argsObject = args ?? {};
  if (typeof argsObject !== 'object' || Array.isArray(argsObject) || argsObject instanceof ArrayBuffer) {
    throw new Error(`The arguments to a function must be an object. Received: ${String(args)}`);
  }
  const result = await backend.call({ kind, name, args: convexToJson(argsObject as Value), caller });
  if (result.status === 'success') return jsonToConvex(result.value);
  if (result.errorData !== undefined) throw new ConvexError(jsonToConvex(result.errorData));
  throw calleeFailure(result.errorMessage);
}
