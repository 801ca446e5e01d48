import type { Value, JSONValue } from '../../values/value.js';
import type { RegisteredFunction } from '../../functions/registration.js';
import type { Auth } from '../../functions/context-types.js';
import type { CompiledSchema } from '../../database/compiled-schema.js';
import { DocumentApi } from '../../database/document-api.js';
import type { ReadTx, Store, WriteTx } from '../../database/store.js';
import { readSetOf } from '../../database/read-set.js';
import type { StorageContext } from '../../storage/storage-context.js';
import type { CallKind, Caller } from '../function-backend.js';
import type { Scheduler } from '../../functions/scheduler-types.js';
import { actionScheduler, mutationScheduler, type SchedulerHost } from '../../scheduler/schedule.js';

// The `ctx` of queries, mutations and actions run by the local backend.
// Each member is built on first use (most functions touch one or two) and
// is a bound function, since handlers often destructure ctx.

type Kind = RegisteredFunction['kind'];
type Run = (reference: unknown, args?: Record<string, unknown>) => Promise<Value>;

/** What the contexts need from the backend that creates them. */
export interface ContextHost extends SchedulerHost {
  readonly store: Store;
  readonly schema: CompiledSchema;
  storageFor(caller: Caller, mode: 'reader' | 'writer' | 'action', tx?: WriteTx): StorageContext;
  /** A call from inside a transaction: same transaction, values still copied across. */
  inline(
    kind: Kind,
    reference: unknown,
    args: Record<string, unknown> | undefined,
    caller: Caller,
    run: (fn: RegisteredFunction, args: Record<string, Value>, settle: (value: unknown) => JSONValue) => Promise<JSONValue>,
  ): Promise<Value>;
  /** A call from an action: its own transaction. */
  callFromAction(kind: CallKind, reference: unknown, args: Record<string, unknown> | undefined, caller: Caller): Promise<Value>;
}

/** The caller a function's own calls run as: it may reach internal functions. */
function inner(caller: Caller): Caller {
  return caller.internal ? caller : { ...caller, internal: true };
}

function authOf(caller: Caller): Auth {
  return { getUserIdentity: () => caller.identity.get() };
}

export class QueryContext {
  private database: DocumentApi | undefined;
  private files: StorageContext | undefined;

  constructor(
    protected readonly host: ContextHost,
    protected readonly tx: ReadTx,
    protected readonly caller: Caller,
  ) {}

  get db(): DocumentApi {
    return (this.database ??= new DocumentApi(this.host.store, this.tx, this.host.schema, false));
  }

  get auth(): Auth {
    // A cached result of this query now belongs to the caller's identity.
    const reads = readSetOf(this.tx);
    if (reads) reads.identity = true;
    return authOf(this.caller);
  }

  get storage(): StorageContext {
    // File metadata (getUrl, getMetadata) is read through this query's own
    // snapshot: a second pooled connection, taken while this one is held,
    // could wait on the pool for good. Reader mode offers no method that
    // writes, so the read transaction is never written to.
    return (this.files ??= this.host.storageFor(this.caller, 'reader', this.tx as WriteTx));
  }

  get runQuery(): Run {
    return (reference, args) =>
      this.host.inline('query', reference, args, inner(this.caller), async (fn, a, settle) => settle(await fn.handler(new QueryContext(this.host, this.tx, this.caller), a)));
  }
}

export class MutationContext {
  private database: DocumentApi | undefined;
  private files: StorageContext | undefined;
  // Savepoints nest but cannot interleave: rolling one back undoes
  // everything written since it began. So nested mutations started together
  // (Promise.all) run one after another, each in its own.
  private nested: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly host: ContextHost,
    private readonly tx: WriteTx,
    private readonly caller: Caller,
  ) {}

  get db(): DocumentApi {
    return (this.database ??= new DocumentApi(this.host.store, this.tx, this.host.schema, true));
  }

  get auth(): Auth {
    return authOf(this.caller);
  }

  get storage(): StorageContext {
    return (this.files ??= this.host.storageFor(this.caller, 'writer', this.tx));
  }

  get runQuery(): Run {
    return (reference, args) =>
      this.host.inline('query', reference, args, inner(this.caller), async (fn, a, settle) => settle(await fn.handler(new QueryContext(this.host, this.tx, this.caller), a)));
  }

  get scheduler(): Scheduler {
    return mutationScheduler(this.host, this.tx, this.caller.requestId);
  }

  get runMutation(): Run {
    return (reference, args) => {
      const run = this.nested.then(() =>
        this.host.inline('mutation', reference, args, inner(this.caller), (fn, a, settle) =>
          this.tx.savepoint(async () => settle(await fn.handler(new MutationContext(this.host, this.tx, this.caller), a))),
        ),
      );
      this.nested = run.catch(() => {});
      return run;
    };
  }
}

export class ActionContext {
  private files: StorageContext | undefined;

  constructor(
    private readonly host: ContextHost,
    private readonly caller: Caller,
  ) {}

  get auth(): Auth {
    return authOf(this.caller);
  }

  get storage(): StorageContext {
    return (this.files ??= this.host.storageFor(this.caller, 'action'));
  }

  get scheduler(): Scheduler {
    return actionScheduler(this.host, this.caller.requestId);
  }

  get runQuery(): Run {
    return (reference, args) => this.host.callFromAction('query', reference, args, inner(this.caller));
  }

  get runMutation(): Run {
    return (reference, args) => this.host.callFromAction('mutation', reference, args, inner(this.caller));
  }

  get runAction(): Run {
    return (reference, args) => this.host.callFromAction('action', reference, args, inner(this.caller));
  }
}
