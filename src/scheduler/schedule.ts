import { convexToJson, type JSONValue, type Value } from '../values/value.js';
import type { GenericId } from '../database/api-types.js';
import type { ReadTx, Store, WriteTx } from '../database/store.js';
import { FunctionNameError, parseFunctionName } from '../functions/names.js';
import { functionNameOf } from '../functions/references.js';
import type { Scheduler } from '../functions/scheduler-types.js';
import { capturedConsole } from '../log/console-capture.js';
import { insertJob, isJobId, lockJob, readJob, setJobState, type Job, type JobState } from './job-table.js';

// ctx.scheduler: a mutation's schedules and cancels are writes of its own
// transaction (a mutation that throws schedules nothing); an action's each
// commit at once. Checks and messages are Convex's.

/** Convex's limits per mutation (TRANSACTION_MAX_NUM_SCHEDULED, ..._ARGS_SIZE). */
const MAX_SCHEDULED_PER_MUTATION = 1000;
const WARN_SCHEDULED_PER_MUTATION = 950;
const MAX_SCHEDULED_ARGS_BYTES = 16 * 1024 * 1024;
const FIVE_YEARS_MS = 5 * 366 * 24 * 3600 * 1000;
const INVALID_ID = "Invalid scheduled function ID. The ID must be an ID on the '_scheduled_functions' table.";

/** What ctx.scheduler needs from the backend that runs the functions. */
export interface SchedulerHost {
  readonly store: Store;
  /** The functions the project has, by canonical name ("messages:send"). */
  readonly functions: ReadonlyMap<string, { kind: string }>;
  /** Tells the runner that a job may be due at `time` (after the commit). */
  wake(time: number): void;
}

/** The error a function sees for a bad schedule call: its message is the user's to read. */
class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** Convex's name of a schedulable target, "module.js:export"; throws when there is no such function. */
function targetName(host: SchedulerHost, reference: unknown): string {
  let parsed;
  try {
    parsed = parseFunctionName(functionNameOf(reference));
  } catch (error) {
    if (error instanceof FunctionNameError) throw new ScheduleError(error.message);
    throw error;
  }
  if (!host.functions.has(parsed.canonical)) {
    const moduleExists = [...host.functions.keys()].some((name) => name === parsed.module || name.startsWith(`${parsed.module}:`));
    if (!moduleExists) throw new ScheduleError(`Attempted to schedule function at nonexistent path: ${parsed.module}`);
    throw new ScheduleError(`Attempted to schedule function, but no exported function ${parsed.exportName} found in the file: ${parsed.module}. Did you forget to export it?`);
  }
  return `${parsed.module}.js:${parsed.exportName}`;
}

function delayTime(delayMs: unknown, now: number): number {
  if (typeof delayMs !== 'number') throw new ScheduleError('`delayMs` must be a number');
  if (!Number.isFinite(delayMs)) throw new ScheduleError('`delayMs` must be a finite number');
  if (delayMs < 0) throw new ScheduleError('`delayMs` must be non-negative');
  return now + delayMs;
}

function atTime(timestamp: unknown): number {
  if (timestamp instanceof Date) return timestamp.getTime();
  if (typeof timestamp === 'number') return timestamp;
  throw new ScheduleError('The invoke time must a Date or a timestamp');
}

function checkTime(time: number, now: number): void {
  if (!Number.isFinite(time)) throw new ScheduleError(`Invalid scheduled time ${time}`);
  if (time > now + FIVE_YEARS_MS) throw new ScheduleError(`Attempted to schedule function at ${new Date(time).toISOString()}, which is more than 5 years in the future`);
  if (time < now - FIVE_YEARS_MS) throw new ScheduleError(`Attempted to schedule function at ${new Date(time).toISOString()}, which is more than 5 years in the past`);
}

function encodeArgs(args: unknown): JSONValue {
  const object = args ?? {};
  if (typeof object !== 'object' || Array.isArray(object) || object instanceof ArrayBuffer) {
    throw new ScheduleError(`The arguments to a Convex function must be an object. Received: ${String(args)}`);
  }
  return convexToJson(object as Value);
}

/** Counts per transaction: nested mutations share their caller's limits. */
const perTransaction = new WeakMap<WriteTx, { count: number; bytes: number }>();

/**
 * The state a new job starts in: canceled when the scheduled function whose
 * call tree schedules it was canceled while running (a scheduled run's
 * request id is its job's id), as in Convex.
 */
async function initialState(tx: ReadTx, requestId: string | undefined): Promise<JobState> {
  if (requestId === undefined || !(await isJobId(tx, requestId))) return { kind: 'pending' };
  const parent = await readJob(tx, requestId);
  return parent?.state.kind === 'canceled' ? { kind: 'canceled' } : { kind: 'pending' };
}

/** ctx.scheduler of a mutation: everything happens in its transaction. `requestId` is its call's. */
export function mutationScheduler(host: SchedulerHost, tx: WriteTx, requestId?: string): Scheduler {
  const schedule = async (time: number, reference: unknown, args: unknown) => {
    const name = targetName(host, reference);
    const encoded = encodeArgs(args);
    let totals = perTransaction.get(tx);
    if (!totals) perTransaction.set(tx, (totals = { count: 0, bytes: 0 }));
    if (totals.count + 1 > MAX_SCHEDULED_PER_MUTATION) throw new ScheduleError(`Too many functions scheduled by this mutation (limit: ${MAX_SCHEDULED_PER_MUTATION})`);
    const bytes = Buffer.byteLength(JSON.stringify(encoded));
    if (totals.bytes + bytes > MAX_SCHEDULED_ARGS_BYTES) {
      throw new ScheduleError(`Too large total size of the arguments of scheduled functions from this mutation (actual: ${totals.bytes + bytes} bytes, limit: ${MAX_SCHEDULED_ARGS_BYTES} bytes)`);
    }
    totals.count += 1;
    totals.bytes += bytes;
    if (totals.count === WARN_SCHEDULED_PER_MUTATION) {
      capturedConsole.warn(`Many functions scheduled by this mutation (actual: ${totals.count}, limit: ${MAX_SCHEDULED_PER_MUTATION})`);
    }
    const id = await insertJob(tx, name, encoded, time, await initialState(tx, requestId));
    tx.onCommit(() => host.wake(time));
    return id as GenericId<'_scheduled_functions'>;
  };
  return {
    runAfter: (delayMs, reference, args) => {
      const now = Date.now();
      return schedule(delayTime(delayMs, now), reference, args);
    },
    runAt: async (timestamp, reference, args) => {
      const time = atTime(timestamp);
      checkTime(time, Date.now());
      return schedule(time, reference, args);
    },
    cancel: (id) => cancelIn(tx, id),
  };
}

/** ctx.scheduler of an action or HTTP action: each call is its own transaction. */
export function actionScheduler(host: SchedulerHost, requestId?: string): Scheduler {
  const schedule = async (time: number, reference: unknown, args: unknown) => {
    const name = targetName(host, reference);
    const encoded = encodeArgs(args);
    const id = await host.store.write(async (tx) => insertJob(tx, name, encoded, time, await initialState(tx, requestId)), { timeoutMs: 30_000 });
    host.wake(time);
    return id as GenericId<'_scheduled_functions'>;
  };
  return {
    runAfter: async (delayMs, reference, args) => schedule(delayTime(delayMs, Date.now()), reference, args),
    runAt: async (timestamp, reference, args) => {
      const time = atTime(timestamp);
      checkTime(time, Date.now());
      return schedule(time, reference, args);
    },
    cancel: (id) => host.store.write((tx) => cancelIn(tx, id), { timeoutMs: 30_000 }),
  };
}

async function cancelIn(tx: WriteTx, id: unknown): Promise<void> {
  if (!(await isJobId(tx, id))) throw new ScheduleError(INVALID_ID);
  let job: Job | null | 'locked' = await lockJob(tx, id as string);
  // Claimed by a run in progress elsewhere: the write below waits for that
  // run's transaction, and a conflict with it runs this one again.
  if (job === 'locked') job = await readJob(tx, id as string);
  if (job === null) return;
  // Finished jobs stay as they are (Convex's backend does the same, silently).
  if (job.state.kind !== 'pending' && job.state.kind !== 'inProgress') return;
  await setJobState(tx, job, { kind: 'canceled' }, Date.now());
}
