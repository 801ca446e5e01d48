import type { JSONValue } from '../values/value.js';
import type { IdentitySource } from '../auth/identity-source.js';
import type { StorageService } from '../storage/storage-service.js';
import type { Scheduler } from '../functions/scheduler-types.js';

export { ANONYMOUS, type IdentitySource } from '../auth/identity-source.js';

// The one seam between the gateway and where functions run. The local
// backend runs the project's modules in this process over SQLite or
// PostgreSQL; the remote backend sends the same calls to another
// deployment's function API. Arguments and results cross it in
// convex_encoded_json, exactly as on the wire, so values keep their types
// (bigint, ArrayBuffer) and no live object is shared between caller and callee.

/** `function` runs whatever kind the named function is (/api/run, /api/function). */
export type CallKind = 'query' | 'mutation' | 'action' | 'function';

export interface Caller {
  identity: IdentitySource;
  /** May run internal functions: another function, or an admin-key holder. */
  internal: boolean;
  requestId: string;
  /** Collect `console.*` lines as Convex logLines (the function API returns them). */
  collectLogs: boolean;
}

export interface CallRequest {
  kind: CallKind;
  /** A function name as the caller wrote it ("messages:list"). */
  name: string;
  /** The argument object, convex_encoded_json. */
  args: JSONValue;
  caller: Caller;
}

export type CallResult =
  | { status: 'success'; value: JSONValue; logLines: string[] }
  | { status: 'error'; errorMessage: string; errorData?: JSONValue; logLines: string[] };

export interface FunctionBackend {
  /** e.g. "local (sqlite)", for logs and health. */
  readonly description: string;
  call(request: CallRequest): Promise<CallResult>;
  /** File storage on the same backend. */
  readonly storage: StorageService;
  /** ctx.scheduler for HTTP actions (as an action's); absent where jobs cannot be scheduled. */
  readonly scheduler?: Scheduler;
  /** Stops accepting calls and releases connections. */
  close(): Promise<void>;
}
