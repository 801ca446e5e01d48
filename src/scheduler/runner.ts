import type { Logger } from 'pino';
import { DatabaseUnavailableError, type Store } from '../database/store.js';
import {
  dueJobs,
  expiredLeases,
  finishedBefore,
  JOBS_TABLE,
  insertLease,
  LEASES_TABLE,
  lockJob,
  nextDueTime,
  openJobTables,
  readJob,
  renewLease,
  setJobState,
  type Job,
  type Lease,
} from './job-table.js';
import { CronRunner } from './cron-runner.js';
import type { JobExecutor } from './executor.js';

export type { JobExecutor } from './executor.js';

// Runs the jobs of `_scheduled_functions` as they fall due, on every
// instance that shares the database; a job runs on exactly one of them:
//  - a mutation runs in the same transaction that marks its job done, after
//    locking the job's row (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's
//    writes are serialized anyway). Its job ends success or failed in that
//    commit, so it runs exactly once; a database failure leaves it pending
//    and it is tried again.
//  - an action's job is marked inProgress, with a lease, in a transaction of
//    its own before the action starts (at most once). The instance renews
//    the leases of the actions it runs; one that ran out belongs to a
//    process that died, and its action is marked failed, not run again.
// Each instance wakes at the next due time it knows of, and polls for jobs
// other instances scheduled.

/** The serving code's functions/crons.ts: whether it exists, and its default export. */
export interface CronSource {
  present: boolean;
  exported: unknown;
}

export interface RunnerOptions {
  /** How often to look for jobs other instances scheduled. */
  pollMs: number;
  /** How long a running action's claim lasts without renewal. */
  leaseMs: number;
  /** Jobs run at the same time by this instance. */
  concurrency: number;
  /** How long finished jobs stay in _scheduled_functions. */
  retentionMs: number;
}

export function runnerOptionsFrom(env: Record<string, string | undefined>): RunnerOptions {
  const number = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    pollMs: number('PORTICO_SCHEDULER_POLL_MS', 1000),
    retentionMs: number('PORTICO_SCHEDULER_RETENTION_MS', 7 * 24 * 3600_000),
    leaseMs: number('PORTICO_SCHEDULER_LEASE_MS', 30_000),
    concurrency: number('PORTICO_SCHEDULER_CONCURRENCY', 16),
  };
}

const TRANSIENT = 'Transient error while executing action';
const WRITE = { timeoutMs: 30_000 };
const BATCH = 100;

export class JobRunner {
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private renewTimer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly running = new Set<Promise<void>>();
  /** Leases of the actions this instance runs, renewed together. */
  private readonly leases = new Map<string, Lease>();
  /** Jobs whose last attempt hit a database failure: not before this time. */
  private readonly backoff = new Map<string, { at: number; delay: number }>();
  private readonly opened = new WeakSet<Store>();
  private readonly cronRunner: CronRunner;

  constructor(
    private readonly executor: () => JobExecutor | null,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
    private readonly crons: () => CronSource = () => ({ present: false, exported: undefined }),
  ) {
    this.cronRunner = new CronRunner(logger, () => this.wake(Date.now()));
  }

  start(): void {
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(50, this.options.leaseMs / 3));
    this.renewTimer.unref();
    this.wake(Date.now());
  }

  /** A job may be due at `time`: look then, unless a look is already planned sooner. */
  wake(time: number): void {
    if (this.stopped || time >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      void this.tick();
    }, Math.max(0, time - Date.now()));
    this.timer.unref();
  }

  /** Stops taking jobs; waits (up to `timeoutMs`) for those running. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.ticking, ...this.running]),
      new Promise((resolve) => (timeout = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timeout);
  }

  private tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = this.look()
      .catch((error: unknown) => this.logger.error({ event: 'scheduler-error', err: error }, `scheduler: ${(error as Error)?.message ?? error}`))
      .finally(() => {
        this.ticking = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake(Date.now());
        }
      });
    return this.ticking;
  }

  private async look(): Promise<void> {
    const executor = this.executor();
    if (!executor || this.stopped) return;
    const { store } = executor;
    if (!this.opened.has(store)) {
      await openJobTables(store);
      this.opened.add(store);
    }
    await this.sweep(store);
    await this.collect(store);
    for (;;) {
      if (this.stopped) return;
      const now = Date.now();
      const due = (await store.read((tx) => dueJobs(tx, now, BATCH))).filter((job) => (this.backoff.get(job.id)?.at ?? 0) <= now);
      // Instances read the same due jobs: each takes them in its own order,
      // so they mostly claim different ones instead of queueing on the same row.
      shuffle(due);
      for (const job of due) {
        while (this.running.size >= this.options.concurrency) await Promise.race(this.running);
        if (this.stopped) return;
        const run = this.run(executor, job).finally(() => this.running.delete(run));
        this.running.add(run);
      }
      await Promise.allSettled(this.running);
      if (due.length < BATCH) break;
    }
    const source = this.crons();
    const nextCron = await this.cronRunner.tick(executor, source.exported, source.present);
    const next = await store.read((tx) => nextDueTime(tx));
    const retry = Math.min(...[...this.backoff.values()].map((entry) => entry.at));
    this.wake(Math.min(Date.now() + this.options.pollMs, next ?? Infinity, nextCron ?? Infinity, retry));
  }

  private async run(executor: JobExecutor, job: Job): Promise<void> {
    const started = performance.now();
    const kind = executor.kindOf(job.name);
    try {
      let outcome: string;
      if (kind === 'action') outcome = await this.runAction(executor, job);
      else outcome = await this.runMutation(executor, job, kind);
      this.backoff.delete(job.id);
      if (outcome !== 'skipped') this.logger.info({ event: 'scheduled-job', job: job.id, name: job.name, kind, outcome, ms: Math.round(performance.now() - started) }, `scheduled ${job.name}: ${outcome}`);
    } catch (error) {
      // The database failed under the job: it is still pending; try later.
      const previous = this.backoff.get(job.id);
      const delay = Math.min((previous?.delay ?? 250) * 2, 2 * 3600_000);
      this.backoff.set(job.id, { at: Date.now() + delay, delay });
      this.logger.warn({ event: 'scheduled-job-retry', job: job.id, name: job.name, err: error, retryInMs: delay }, `scheduled ${job.name}: ${(error as Error)?.message ?? error}; trying again in ${delay} ms`);
    }
  }

  private runMutation(executor: JobExecutor, job: Job, kind: 'query' | 'mutation' | null): Promise<string> {
    return executor.store.write(async (tx) => {
      const current = await lockJob(tx, job.id);
      if (current === null || current === 'locked' || current.state.kind !== 'pending') return 'skipped';
      if (kind !== 'mutation') {
        const error = kind === null ? `Could not find function for '${job.name}'` : `Unsupported function type: ${job.name} is a query; only mutations and actions can be scheduled`;
        await setJobState(tx, current, { kind: 'failed', error }, Date.now());
        return 'failed';
      }
      try {
        await tx.savepoint(() => executor.runScheduled(current, tx));
      } catch (error) {
        // Not the function's doing: leave the job pending (the store may run this again).
        if (error instanceof DatabaseUnavailableError) throw error;
        await setJobState(tx, current, { kind: 'failed', error: messageOf(error) }, Date.now());
        return 'failed';
      }
      await setJobState(tx, current, { kind: 'success' }, Date.now());
      return 'success';
    }, WRITE);
  }

  private async runAction(executor: JobExecutor, job: Job): Promise<string> {
    const { store } = executor;
    const lease = await store.write(async (tx) => {
      const current = await lockJob(tx, job.id);
      if (current === null || current === 'locked' || current.state.kind !== 'pending') return null;
      await setJobState(tx, current, { kind: 'inProgress' });
      const expires = Date.now() + this.options.leaseMs;
      return { id: await insertLease(tx, job.id, expires), jobId: job.id, expires };
    }, WRITE);
    if (!lease) return 'skipped';
    this.leases.set(lease.id, lease);
    let state: { kind: 'success' } | { kind: 'failed'; error: string };
    try {
      await executor.runScheduled(job);
      state = { kind: 'success' };
    } catch (error) {
      state = { kind: 'failed', error: messageOf(error) };
    }
    // The outcome is recorded until it sticks: the action must not run again.
    for (let attempt = 0; ; attempt++) {
      try {
        await store.write(async (tx) => {
          const current = await readJob(tx, job.id);
          // Cancelled while it ran: it stays cancelled.
          if (current && current.state.kind === 'inProgress') await setJobState(tx, current, state, Date.now());
          await tx.delete(LEASES_TABLE, lease.id);
        }, WRITE);
        break;
      } catch (error) {
        if (this.stopped || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
    this.leases.delete(lease.id);
    return state.kind;
  }

  private async renewLeases(): Promise<void> {
    const executor = this.executor();
    if (!executor || this.leases.size === 0) return;
    const expires = Date.now() + this.options.leaseMs;
    try {
      await executor.store.write(async (tx) => {
        for (const lease of this.leases.values()) await renewLease(tx, lease, expires);
      }, WRITE);
      for (const lease of this.leases.values()) lease.expires = expires;
    } catch (error) {
      this.logger.warn({ event: 'scheduler-error', err: error }, `scheduler: could not renew the leases of running actions: ${(error as Error)?.message ?? error}`);
    }
  }

  private lastCollect = 0;

  /** Deletes finished jobs past their retention (looked for at most once a minute, a batch at a time). */
  private async collect(store: Store): Promise<void> {
    const now = Date.now();
    if (now - this.lastCollect < Math.min(60_000, this.options.retentionMs)) return;
    this.lastCollect = now;
    const old = await store.read((tx) => finishedBefore(tx, now - this.options.retentionMs, BATCH));
    if (old.length === 0) return;
    await store.write(async (tx) => {
      for (const job of old) await tx.delete(JOBS_TABLE, job.id);
    }, WRITE);
  }

  /** Actions whose instance stopped renewing their lease: failed, never run again. */
  private async sweep(store: Store): Promise<void> {
    const now = Date.now();
    const expired = (await store.read((tx) => expiredLeases(tx, now, BATCH))).filter((lease) => !this.leases.has(lease.id));
    if (expired.length === 0) return;
    const failed = await store.write(async (tx) => {
      const jobs: string[] = [];
      for (const lease of expired) {
        const job = await lockJob(tx, lease.jobId);
        if (job === 'locked') continue;
        if (job && job.state.kind === 'inProgress') {
          await setJobState(tx, job, { kind: 'failed', error: TRANSIENT }, now);
          jobs.push(job.name);
        }
        await tx.delete(LEASES_TABLE, lease.id);
      }
      return jobs;
    }, WRITE);
    for (const name of failed) this.logger.warn({ event: 'scheduled-job', name, outcome: 'failed' }, `scheduled ${name}: ${TRANSIENT} (its instance stopped while it ran)`);
  }
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
