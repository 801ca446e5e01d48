import { callFunction } from '../backends/call-function.js';
import type { Caller, FunctionBackend, IdentitySource } from '../backends/function-backend.js';
import type { Auth, HttpActionCtx, StorageActionWriter } from '../functions/context-types.js';
import type { StorageContext } from '../storage/storage-context.js';
import type { Scheduler } from '../functions/scheduler-types.js';

// The `ctx` of an HTTP action. Handlers often destructure it
// (`async ({ runMutation }, request) => ...`), so its members are functions
// bound on first access rather than methods; a request that touches none of
// them allocates none.

export interface HttpActionServices {
  backend: FunctionBackend;
  storageFor(caller: Caller): StorageContext;
}

export class HttpActionContext implements HttpActionCtx {
  private storageContext: StorageContext | undefined;
  /** The query string as the route's request.query schema validated and coerced it. */
  query: Record<string, unknown> | undefined = undefined;
  /** The Koa ctx.state the route's middleware filled. */
  state: Record<string, unknown> | undefined = undefined;

  constructor(
    private readonly services: HttpActionServices,
    private readonly caller: Caller,
    readonly params: Record<string, string>,
  ) {}

  get runQuery() {
    return (reference: unknown, args?: Record<string, any>) => callFunction(this.services.backend, 'query', reference, args, this.caller);
  }

  get runMutation() {
    return (reference: unknown, args?: Record<string, any>) => callFunction(this.services.backend, 'mutation', reference, args, this.caller);
  }

  get runAction() {
    return (reference: unknown, args?: Record<string, any>) => callFunction(this.services.backend, 'action', reference, args, this.caller);
  }

  get auth(): Auth {
    const identity: IdentitySource = this.caller.identity;
    return { getUserIdentity: () => identity.get() };
  }

  get scheduler(): Scheduler {
    const scheduler = this.services.backend.scheduler;
    if (!scheduler) throw new Error(`ctx.scheduler is not available on the ${this.services.backend.description} backend`);
    return scheduler;
  }

  get storage(): StorageActionWriter {
    this.storageContext ??= this.services.storageFor(this.caller);
    return this.storageContext;
  }
}
