import { AsyncResource } from 'node:async_hooks';
import type { StatementCache } from './sqlite-statements.js';
import { TransactionTimeoutError } from '../store.js';
import { attributionEnabled } from '../../log/console-capture.js';

// Reads are grouped as writes are (write-lane.ts). A read transaction costs
// SQLite three system calls (a lock on the shared-memory index, a stat of
// the file, the unlock: 8-15 µs here), more than a one-row index lookup
// itself. So the queries submitted during one turn of the event loop run on
// one read transaction, one snapshot, on one pooled connection.
//
// Sharing a snapshot is safe because it is taken by the batch's first
// statement, after every query in the batch was submitted: each query sees
// every commit that completed before it was called, anywhere, which is what
// a read of its own would have seen. A query called later waits for the next
// batch (one more turn of the loop at most).

/** A query started on the batch's connection: its result, and how to close its handle. */
export interface StartedRead<T> {
  done: Promise<T>;
  close(): void;
}

interface Job {
  start(reader: StatementCache, since: number): StartedRead<unknown>;
  timeoutMs: number | undefined;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export interface ReaderPool {
  acquire(): Promise<StatementCache>;
  release(reader: StatementCache): void;
}

export class ReadLane {
  private queue: Job[] = [];
  private scheduled = false;

  /** `tick`: the catalog's tick, taken before the snapshot begins (see SqliteTx). */
  constructor(
    private readonly readers: ReaderPool,
    private readonly tick: () => number,
  ) {}

  /**
   * Queues a read; `start` runs it on the batch's connection. With
   * `timeoutMs`, a read that runs longer is closed and rejected with a
   * TransactionTimeoutError, and the batch goes on without it.
   */
  submit<T>(start: (reader: StatementCache, since: number) => StartedRead<T>, timeoutMs: number | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The batch runs from whichever call scheduled it: each read keeps its
      // own caller's context, so its console output is its request's.
      const own = attributionEnabled() ? AsyncResource.bind(start) : start;
      this.queue.push({ start: own, timeoutMs, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.runBatch());
      }
    });
  }

  private async runBatch(): Promise<void> {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const reader = await this.readers.acquire();
    // Reads queued while this one waited for a connection join it too: the
    // snapshot is only taken once the batch's first statement runs, below.
    const batch = this.queue.splice(0);
    if (batch.length === 0) return this.readers.release(reader);
    const since = this.tick();
    // Prepared, not exec'd: exec parses the SQL on every call.
    reader.get('BEGIN').run();
    try {
      await Promise.all(batch.map((job) => run(job, reader, since)));
    } finally {
      reader.get('COMMIT').run();
      this.readers.release(reader);
    }
  }
}

/** Runs one read of a batch; settles once it has answered (or timed out), never rejects. */
function run(job: Job, reader: StatementCache, since: number): Promise<void> {
  let started: StartedRead<unknown>;
  try {
    started = job.start(reader, since);
  } catch (error) {
    job.reject(error);
    return Promise.resolve();
  }
  const { done, close } = started;
  return new Promise<void>((settle) => {
    // A query that runs too long gives the snapshot back: its handle is
    // closed first, so code it still runs cannot read from a later one.
    const timer =
      job.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            close();
            job.reject(new TransactionTimeoutError(`Query did not finish within ${job.timeoutMs} ms`));
            settle();
          }, job.timeoutMs);
    done.then(
      (value) => {
        clearTimeout(timer);
        close();
        job.resolve(value);
        settle();
      },
      (error) => {
        clearTimeout(timer);
        close();
        job.reject(error);
        settle();
      },
    );
  });
}
