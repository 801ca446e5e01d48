import { AsyncResource } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import { attributionEnabled } from '../../log/console-capture.js';
import { TransactionTimeoutError } from '../store.js';
import { diskFullOr } from './disk-full.js';

// SQLite has one writer, so mutations run one at a time on the write
// connection: serial execution is trivially serializable.
//
// Durability costs an fsync, measured at 0.8-1.7 ms here, which alone would
// cap mutations at under a thousand a second, and blocks the event loop if
// SQLite does it inside COMMIT. So:
//  - commits are grouped: mutations queued while the lane was busy run next
//    as one batch, each inside its own SAVEPOINT (a mutation that throws is
//    rolled back to it and leaves nothing behind), then one COMMIT;
//  - the connection runs with synchronous=NORMAL, so COMMIT only writes the
//    WAL, and `durable()` (an fsync of the WAL on libuv's thread pool) makes
//    the batch durable while the lane goes on with the next one.
// No mutation is acknowledged before the fsync that covers its commit has
// returned: acknowledged writes survive a crash of the process or of the
// machine, as with synchronous=FULL. (Between its COMMIT and that fsync, a
// batch is already visible to concurrent queries.)

interface Job {
  run: () => Promise<unknown>;
  timeoutMs: number;
  onTimeout: (() => void) | undefined;
  onCommitted: (() => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

const MAX_BATCH = 256;

export class WriteLane {
  private queue: Job[] = [];
  private draining = false;
  private readonly statements: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'undo', Database.Statement>;

  /**
   * @param durable resolves once everything committed so far is on disk.
   * @param onBatchStart runs once the batch holds the write lock, before any mutation.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly durable: () => Promise<void>,
    private readonly onBatchStart: () => void = () => {},
  ) {
    // Prepared once: exec() would parse these five statements again for
    // every mutation.
    this.statements = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT mutation'),
      release: db.prepare('RELEASE mutation'),
      undo: db.prepare('ROLLBACK TO mutation'),
    };
  }

  /**
   * Queues `run` (which uses the write connection) and resolves once its
   * commit is durable. `onTimeout` runs, before the lane moves on, if `run`
   * is abandoned for taking longer than `timeoutMs`. `onCommitted` runs
   * right after the COMMIT that includes it, before anything else runs and
   * before it is durable: from then on, readers see its writes.
   */
  submit<T>(run: () => Promise<T>, timeoutMs: number, onTimeout?: () => void, onCommitted?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The batch runs from whichever call scheduled it: each mutation keeps
      // its own caller's context, so its console output is its request's.
      if (attributionEnabled()) run = AsyncResource.bind(run);
      this.queue.push({ run, timeoutMs, onTimeout, onCommitted, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the requests already waiting on the event loop queue their
        // mutations first: they will share this batch's commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** Mutations queued or running. */
  get busy(): boolean {
    return this.draining || this.queue.length > 0;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      const { committed, outcomes } = await this.runBatch(batch);
      if (committed) {
        this.durable().then(
          () => settle(batch, outcomes),
          // The commit happened but could not be made durable (an I/O
          // error): nobody may be told it succeeded.
          (error) => settle(batch, batch.map(() => ({ ok: false, error }))),
        );
      } else {
        settle(batch, outcomes);
      }
      if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.draining = false;
  }

  private async runBatch(batch: Job[]): Promise<{ committed: boolean; outcomes: Outcome[] }> {
    const { statements } = this;
    try {
      statements.begin.run();
      this.onBatchStart();
    } catch (error) {
      if (this.db.inTransaction) statements.rollback.run();
      return { committed: false, outcomes: batch.map(() => ({ ok: false, error })) };
    }
    const outcomes: Outcome[] = [];
    for (let i = 0; i < batch.length; i++) {
      let outcome: Outcome;
      try {
        statements.savepoint.run();
        outcome = await this.runJob(batch[i]!);
        if (outcome.ok) statements.release.run();
        else {
          statements.undo.run();
          statements.release.run();
        }
      } catch (error) {
        outcome = { ok: false, error };
      }
      if (!this.db.inTransaction) {
        // SQLite gave the transaction up on its own (a full disk, an I/O
        // error): what ran in it so far is gone, so those mutations failed;
        // the ones not yet run go first in the next batch.
        this.queue.unshift(...batch.splice(i + 1));
        const error = diskFullOr(outcome.ok ? new Error('SQLite rolled the transaction back') : outcome.error);
        return { committed: false, outcomes: batch.map(() => ({ ok: false, error })) };
      }
      outcomes.push(outcome);
    }
    try {
      statements.commit.run();
    } catch (error) {
      // Nothing of this batch is committed: every mutation in it failed.
      if (this.db.inTransaction) statements.rollback.run();
      return { committed: false, outcomes: batch.map(() => ({ ok: false, error: diskFullOr(error) })) };
    }
    batch.forEach((job, i) => {
      if (outcomes[i]!.ok) job.onCommitted?.();
    });
    return { committed: true, outcomes };
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

function settle(batch: Job[], outcomes: Outcome[]): void {
  batch.forEach((job, i) => {
    const outcome = outcomes[i]!;
    if (outcome.ok) job.resolve(outcome.value);
    else job.reject(outcome.error);
  });
}
