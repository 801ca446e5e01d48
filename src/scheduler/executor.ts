import type { JSONValue } from '../values/value.js';
import type { Store, WriteTx } from '../database/store.js';

/** What the runner needs from the backend that runs the project's functions. */
export interface JobExecutor {
  readonly store: Store;
  /** The kind of the function a job names ("messages.js:send"), or null when there is none. */
  kindOf(name: string): 'query' | 'mutation' | 'action' | null;
  /** Runs a scheduled mutation inside `tx`, or an action; throws what the function threw. */
  runScheduled(job: { id: string; name: string; args: JSONValue }, tx?: WriteTx): Promise<void>;
}
