import { convexToJson, jsonToConvex, ValueError, type JSONValue, type Value } from '../../values/value.js';
import { compileObjectValidator, compileValidator, type CheckResult } from '../../values/validators.js';
import { FunctionNameError, missingFunctionMessage, parseFunctionName } from '../../functions/names.js';
import { functionNameOf } from '../../functions/references.js';
import type { LoadedModules } from '../../functions/loader.js';
import type { RegisteredFunction } from '../../functions/registration.js';
import type { CompiledSchema } from '../../database/compiled-schema.js';
import { idCheckFor } from '../../database/document-api.js';
import { DatabaseUnavailableError, type Store, type WriteTx } from '../../database/store.js';
import { DiskFullError } from '../../database/sqlite/disk-full.js';
import { GatewayError } from '../../http/errors.js';
import { Query } from '../../database/query.js';
import { enableAttribution, runInLogScope } from '../../log/console-capture.js';
import type { StorageService } from '../../storage/storage-service.js';
import type { StorageContext } from '../../storage/storage-context.js';
import { callFunction } from '../call-function.js';
import { ANONYMOUS, type CallKind, type CallRequest, type CallResult, type Caller, type FunctionBackend } from '../function-backend.js';
import type { Scheduler } from '../../functions/scheduler-types.js';
import { actionScheduler } from '../../scheduler/schedule.js';
import { jobScheduled } from '../../scheduler/wake.js';
import type { JobExecutor } from '../../scheduler/executor.js';
import { describeFailure, FunctionCallError } from './call-errors.js';
import { QueryCache } from './query-cache.js';
import { ReadSet, TrackedReadTx } from '../../database/read-set.js';
import { activeMetrics } from '../../metrics/metrics.js';
import { ActionContext, MutationContext, QueryContext, type ContextHost } from './function-contexts.js';

// Runs the project's functions in this process, over a Store:
//  - a query runs on one read snapshot;
//  - a mutation is one serializable transaction (the store may re-run it on
//    a conflict, so it must be deterministic, as in Convex);
//  - an action runs plain code that reaches the others through ctx.
// A call from inside a query or mutation (ctx.runQuery / runMutation) runs
// inline in the caller's transaction; a nested mutation gets a savepoint so
// that its failure leaves nothing behind even if the caller catches it.

export interface LocalBackendOptions {
  production: boolean;
  /** Longest a query or mutation may run before it is abandoned. */
  transactionTimeoutMs: number;
  /**
   * ctx.storage for a caller; `mode` says which methods the context offers.
   * A mutation's context also gets the mutation's transaction: file metadata
   * it writes (store, delete) belongs in it, since on SQLite a write of its
   * own would queue on the single write lane behind the very mutation that
   * waits for it.
   */
  storageFor(caller: Caller, mode: 'reader' | 'writer' | 'action', tx?: WriteTx): StorageContext;
  /** Keep query results until a write could change them; null turns the cache off. */
  queryCache?: { maxEntries: number } | null;
}

type Kind = RegisteredFunction['kind'];
const KIND_NAMES: Record<Kind, string> = { query: 'Query', mutation: 'Mutation', action: 'Action' };

export class LocalBackend implements FunctionBackend, ContextHost, JobExecutor {
  readonly description: string;
  private readonly argCheckers = new WeakMap<RegisteredFunction, (encoded: JSONValue) => CheckResult>();
  private readonly returnCheckers = new WeakMap<RegisteredFunction, (encoded: JSONValue) => CheckResult>();
  /** v.id() in arguments and results: ids of this store's tables. */
  private readonly isIdOfTable: (table: string, id: string) => boolean;
  private readonly cache: QueryCache | null;

  constructor(
    readonly store: Store,
    private readonly modules: LoadedModules,
    readonly schema: CompiledSchema,
    readonly storage: StorageService,
    private readonly options: LocalBackendOptions,
  ) {
    this.description = `local (${store.dialect})`;
    this.isIdOfTable = idCheckFor(store);
    this.cache = options.queryCache ? new QueryCache(options.queryCache.maxEntries, store.commits) : null;
    // logLines need each call's console output tied to it, whoever built
    // this backend (the server, or `portico run` alone).
    if (modules.usesConsole) enableAttribution();
  }

  async call(request: CallRequest): Promise<CallResult> {
    const logLines: string[] = [];
    try {
      const fn = this.resolve(request.kind, request.name, request.caller);
      if (fn.kind === 'query' && this.cache) return await this.cachedQuery(fn, request, logLines);
      const args = this.checkArgs(fn, request.args, request.name);
      const scope = { requestId: request.caller.requestId, source: request.name, lines: request.caller.collectLogs ? logLines : null };
      const value = await runInLogScope(scope, () => this.execute(fn, request.name, args, request.caller));
      return { status: 'success', value, logLines };
    } catch (error) {
      // Not the function's failure: the caller gets a 503 (on /api) or a
      // thrown error (ctx.run*), and may try again.
      if (error instanceof DatabaseUnavailableError) throw new GatewayError('DatabaseUnavailable', `${error.message}. Try again shortly.`);
      if (error instanceof DiskFullError) throw new GatewayError('InsufficientStorage', error.message);
      return { status: 'error', ...describeFailure(error, request.caller.requestId, this.options.production), logLines };
    }
  }

  async close(): Promise<void> {
    // The store is shared by generations and closed with them (SharedResources).
    this.cache?.close();
  }

  /**
   * A query through the cache. The key is the function and its arguments as
   * sent; a result that asked who the caller is is kept per identity. A hit
   * first makes sure every commit made elsewhere has been heard of (another
   * process on the SQLite file, another instance on PostgreSQL). A query that
   * logged is not kept (a hit would lose its lines), nor one that failed.
   */
  private async cachedQuery(fn: RegisteredFunction, request: CallRequest, logLines: string[]): Promise<CallResult> {
    const cache = this.cache!;
    const { caller } = request;
    const call = `${request.name}\u0000${JSON.stringify(request.args)}`;
    let key = call;
    if (cache.dependsOnIdentity(call) && !cache.has(call)) {
      const identity = await caller.identity.get().catch(() => undefined);
      if (identity !== undefined) key = `${call}\u0000${JSON.stringify(identity)}`;
    }
    // Found: first hear of every commit made elsewhere (another process on
    // the SQLite file, another instance on PostgreSQL), which may drop it.
    // A miss needs no such check: a result stored from a snapshot older
    // than such a commit is dropped by the check of the next hit.
    if (cache.has(key)) {
      const current = this.store.catchUp();
      const trusted = current === true || (current !== false && (await current));
      const hit = trusted ? cache.get(key) : undefined;
      if (hit !== undefined) {
        activeMetrics()?.queryCacheHit();
        return { status: 'success', value: hit, logLines };
      }
    }
    activeMetrics()?.queryCacheMiss();
    // A call seen for the first time runs as if there were no cache.
    if (!cache.admits(key)) {
      const args = this.checkArgs(fn, request.args, request.name);
      const scope = { requestId: caller.requestId, source: request.name, lines: caller.collectLogs ? logLines : null };
      return { status: 'success', value: await runInLogScope(scope, () => this.execute(fn, request.name, args, caller)), logLines };
    }
    const args = this.checkArgs(fn, request.args, request.name);
    const scope = { requestId: caller.requestId, source: request.name, lines: caller.collectLogs ? logLines : null, logged: false };
    const since = cache.begin();
    try {
      const reads = new ReadSet();
      const value = await runInLogScope(scope, () =>
        this.store.read(async (tx) => this.encodeResult(fn, request.name, await fn.handler(new QueryContext(this, new TrackedReadTx(tx, reads), caller), args)), {
          timeoutMs: this.options.transactionTimeoutMs,
        }),
      );
      if (!scope.logged) {
        if (!reads.identity) cache.put(call, value, reads, since);
        else {
          // A caller whose token failed verification has no identity to keep a result under.
          const identity = await caller.identity.get().catch(() => undefined);
          if (identity !== undefined) cache.put(`${call}\u0000${JSON.stringify(identity)}`, value, reads, since, call);
        }
      }
      return { status: 'success', value, logLines };
    } finally {
      cache.end(since);
    }
  }

  get functions(): ReadonlyMap<string, RegisteredFunction> {
    return this.modules.functions;
  }

  /** ctx.scheduler of HTTP actions: each call commits at once, as an action's. */
  get scheduler(): Scheduler {
    return actionScheduler(this);
  }

  wake(time: number): void {
    jobScheduled(time);
  }

  kindOf(name: string): Kind | null {
    try {
      return this.modules.functions.get(parseFunctionName(name).canonical)?.kind ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Runs a job of `_scheduled_functions`: a mutation inside the transaction
   * that settles its job, an action on its own. Scheduled functions run with
   * no identity (auth is not passed on, as in Convex) and may be internal.
   */
  async runScheduled(job: { id: string; name: string; args: JSONValue }, tx?: WriteTx): Promise<void> {
    const caller: Caller = { identity: ANONYMOUS, internal: true, requestId: job.id, collectLogs: false };
    const fn = this.resolve('function', job.name, caller);
    const args = this.checkArgs(fn, job.args, job.name);
    await runInLogScope({ requestId: job.id, source: job.name, lines: null }, async () => {
      if (fn.kind === 'mutation' && tx) this.encodeResult(fn, job.name, await fn.handler(new MutationContext(this, tx, caller), args));
      else if (fn.kind === 'action' && !tx) this.encodeResult(fn, job.name, await fn.handler(new ActionContext(this, caller), args));
      else throw new FunctionCallError(`Unsupported function type: ${job.name} is a ${fn.kind}`);
    });
  }

  private resolve(kind: Kind | 'function', name: string, caller: Caller): RegisteredFunction {
    let canonical: string;
    try {
      canonical = parseFunctionName(name).canonical;
    } catch (error) {
      if (error instanceof FunctionNameError) throw new FunctionCallError(error.message);
      throw error;
    }
    const fn = this.modules.functions.get(canonical);
    if (!fn || (fn.visibility === 'internal' && !caller.internal)) {
      throw new FunctionCallError(missingFunctionMessage(canonical, this.modules.functions, caller.internal));
    }
    if (kind !== 'function' && fn.kind !== kind) {
      throw new FunctionCallError(`Trying to execute ${canonical} as ${KIND_NAMES[kind]}, but it is defined as ${KIND_NAMES[fn.kind]}.`);
    }
    return fn;
  }

  private checkArgs(fn: RegisteredFunction, encoded: JSONValue, name: string): Record<string, Value> {
    if (fn.args !== null) {
      let check = this.argCheckers.get(fn);
      if (!check) this.argCheckers.set(fn, (check = compileObjectValidator(fn.args, { isIdOfTable: this.isIdOfTable })));
      const result = check(encoded);
      if (!result.ok) throw new FunctionCallError(result.message);
    }
    let args: Value;
    try {
      args = jsonToConvex(encoded);
    } catch (error) {
      // JSON that encodes no value (nested too deep, a malformed `$integer`
      // where v.any() let it through): the caller's mistake, not the
      // function's failure, in Convex's words.
      if (error instanceof ValueError) throw new FunctionCallError(`Invalid arguments for ${name}: ${error.message}`);
      throw error;
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args) || args instanceof ArrayBuffer) {
      throw new FunctionCallError(`ArgumentValidationError: Expected to receive an object as the function's argument. Instead received: ${JSON.stringify(encoded)}`);
    }
    return args as Record<string, Value>;
  }

  private encodeResult(fn: RegisteredFunction, name: string, value: unknown): JSONValue {
    if (value instanceof Query) {
      throw new Error('Return value is a Query. Results must be retrieved with `.collect()`, `.take(n)`, `.unique()`, or `.first()`.');
    }
    const encoded = convexToJson((value === undefined ? null : value) as Value);
    if (fn.returns !== null) {
      let check = this.returnCheckers.get(fn);
      if (!check) this.returnCheckers.set(fn, (check = compileValidator(fn.returns, { isIdOfTable: this.isIdOfTable })));
      const result = check(encoded);
      if (!result.ok) throw new Error(`ReturnsValidationError: ${name} returned a value that does not match its returns validator: ${result.message}`);
    }
    return encoded;
  }

  /**
   * Runs a function and encodes its result. A result that cannot be encoded
   * or fails its returns validator fails the function, so the check runs
   * inside the transaction: such a mutation commits nothing.
   */
  private execute(fn: RegisteredFunction, name: string, args: Record<string, Value>, caller: Caller): Promise<JSONValue> {
    switch (fn.kind) {
      case 'query':
        // A query that runs too long gives its read snapshot back.
        return this.store.read(async (tx) => this.encodeResult(fn, name, await fn.handler(new QueryContext(this, tx, caller), args)), {
          timeoutMs: this.options.transactionTimeoutMs,
        });
      case 'mutation':
        return this.store.write(async (tx) => this.encodeResult(fn, name, await fn.handler(new MutationContext(this, tx, caller), args)), {
          timeoutMs: this.options.transactionTimeoutMs,
        });
      case 'action':
        return Promise.resolve(fn.handler(new ActionContext(this, caller), args)).then((value) => this.encodeResult(fn, name, value));
    }
  }

  storageFor(caller: Caller, mode: 'reader' | 'writer' | 'action', tx?: WriteTx) {
    return this.options.storageFor(caller, mode, tx);
  }

  /** A call from an action: its own transaction, through the same path as any caller's. */
  callFromAction(kind: CallKind, reference: unknown, args: Record<string, unknown> | undefined, caller: Caller): Promise<Value> {
    return callFunction(this, kind, reference, args, caller);
  }

  /**
   * A call made from inside a query or mutation: same transaction, and the
   * values still cross an encode/decode boundary so the callee cannot share
   * objects with its caller. `run` calls `settle` with the callee's result
   * where a failure must undo the callee's writes (inside its savepoint).
   */
  async inline(
    kind: Kind,
    reference: unknown,
    args: Record<string, unknown> | undefined,
    caller: Caller,
    run: (fn: RegisteredFunction, args: Record<string, Value>, settle: (value: unknown) => JSONValue) => Promise<JSONValue>,
  ): Promise<Value> {
    const name = functionNameOf(reference);
    const fn = this.resolve(kind, name, caller);
    const decoded = this.checkArgs(fn, convexToJson((args ?? {}) as Value), name);
    return jsonToConvex(await run(fn, decoded, (value) => this.encodeResult(fn, name, value)));
  }
}
