import type { GenericId } from '../database/api-types.js';

/** A mutation or action to run: an `api.module.fn` reference or a "module:fn" string. */
type FunctionReferenceLike = string | { readonly [name: symbol]: unknown };

/**
 * `ctx.scheduler` of mutations, actions and HTTP actions, as in Convex. From
 * a mutation, scheduling and cancelling are part of its transaction; from an
 * action they take effect at once.
 *
 * @example
 * await ctx.scheduler.runAfter(60_000, internal.messages.welcome, { author });
 */
export interface Scheduler {
  /** Runs a mutation or action `delayMs` milliseconds from now; returns the job's id. */
  runAfter(delayMs: number, functionReference: FunctionReferenceLike, args?: Record<string, any>): Promise<GenericId<'_scheduled_functions'>>;
  /** Runs a mutation or action at a time (milliseconds since the epoch, or a Date). */
  runAt(timestamp: number | Date, functionReference: FunctionReferenceLike, args?: Record<string, any>): Promise<GenericId<'_scheduled_functions'>>;
  /** Cancels a pending job; a job that already finished is left as it is. */
  cancel(id: GenericId<'_scheduled_functions'> | string): Promise<void>;
}
