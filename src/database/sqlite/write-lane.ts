import type Database from 'better-sqlite3';
import { TransactionTimeoutError } from '../store.js';

// SQLite has one writer, so mutations run one at a time on the write
// connection: serial execution is trivially serializable.
//
// Durability costs an fsync per commit (~220 µs here with synchronous=FULL),
// which alone would cap mutations at a few thousand per second. So commits
// are grouped: mutations queued while a commit was in progress run next as
// one batch, each inside its own SAVEPOINT (a mutation that throws is rolled
// back to its savepoint and leaves nothing behind), then one COMMIT makes the
// whole batch durable. No mutation is acknowledged before that COMMIT.

interface Job {
  run: () => Promise<unknown>;
  timeoutMs: number;
  onTimeout: (() => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const MAX_BATCH = 256;

export class WriteLane {
  private queue: Job[] = [];
  private draining = false;

  /** @param onBatchStart runs once the batch holds the write lock, before any mutation. */
  constructor(
    private readonly db: Database.Database,
    private readonly onBatchStart: () => void = () => {},
  ) {}

  /**
   * Queues `run` (which uses the write connection) and resolves after its
   * commit. `onTimeout` runs, before the lane moves on, if `run` is
   * abandoned for taking longer than `timeoutMs`.
   */
  submit<T>(run: () => Promise<T>, timeoutMs: number, onTimeout?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, timeoutMs, onTimeout, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the requests already waiting on the event loop queue their
        // mutations first: they will share this batch's commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const outcomes = await this.runBatch(batch);
      batch.forEach((job, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.error);
      });
      if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.draining = false;
  }

  private async runBatch(batch: Job[]): Promise<Outcome[]> {
    const { db } = this;
    try {
      db.exec('BEGIN IMMEDIATE');
      this.onBatchStart();
    } catch (error) {
      return batch.map(() => ({ ok: false, error }));
    }
    const outcomes: Outcome[] = [];
    for (const job of batch) {
      db.exec('SAVEPOINT mutation');
      const outcome = await this.runJob(job);
      if (outcome.ok) db.exec('RELEASE mutation');
      else {
        db.exec('ROLLBACK TO mutation');
        db.exec('RELEASE mutation');
      }
      outcomes.push(outcome);
    }
    try {
      db.exec('COMMIT');
    } catch (error) {
      // Nothing of this batch is durable: every mutation in it failed.
      if (db.inTransaction) db.exec('ROLLBACK');
      return batch.map(() => ({ ok: false, error }));
    }
    return outcomes;
  }

  private runJob(job: Job): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      // A mutation that does not finish in time is rolled back; its code may
      // still be running, but its transaction handle is closed by then, so
      // its later reads and writes throw.
      const timer = setTimeout(() => {
        job.onTimeout?.();
        finish({ ok: false, error: new TransactionTimeoutError(`Mutation did not finish within ${job.timeoutMs} ms`) });
      }, job.timeoutMs);
      job.run().then(
        (value) => finish({ ok: true, value }),
        (error) => finish({ ok: false, error }),
      );
    });
  }
}
