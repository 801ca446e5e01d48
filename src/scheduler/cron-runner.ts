import type { Logger } from 'pino';
import type { Value } from '../values/value.js';
import { parseFunctionName } from '../functions/names.js';
import type { IndexSpec, Store, StoredDocument, WriteTx } from '../database/store.js';
import { newId } from '../database/ids.js';
import { DatabaseUnavailableError } from '../database/store.js';
import { parseCron, nextCronTime, CronSpecError } from './cron-spec.js';
import { isCrons, type CronJob, type CronSchedule } from './crons.js';
import type { JobExecutor } from './executor.js';

// Cron jobs: each job's next run is a row of `_cron_jobs`, shared by every
// instance on the database. A run is claimed by locking that row and moving
// its next run forward; a mutation runs in that same transaction (once per
// period), an action after it commits (at most once per period). A job
// overdue after downtime runs once; the other missed periods are skipped
// and logged, not caught up. The rows follow functions/crons.ts: a reload
// adds, updates and removes them by name.

const CRONS_TABLE = '_cron_jobs';
const BY_NAME: IndexSpec = { name: 'by_name', fields: ['name'] };
const WRITE = { timeoutMs: 30_000 };
const DAY_NUMBERS = { sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6 };

/** A cron job as the runner schedules it. */
export interface PlannedCron {
  cronName: string;
  job: CronJob;
  /** The job's definition as stored: a change re-plans it. */
  spec: string;
  /** The first run strictly after `after`. */
  next(after: number): number;
  /** When a new job runs first. */
  first(now: number): number;
}

interface CronRow {
  id: string;
  creationTime: number;
  name: string;
  spec: string;
  nextRun: number;
  lastRun?: number;
}

/** The five-field expression a calendar schedule stands for. */
function cronExpression(schedule: Exclude<CronSchedule, { type: 'interval' }>): string {
  switch (schedule.type) {
    case 'hourly':
      return `${schedule.minuteUTC} * * * *`;
    case 'daily':
      return `${schedule.minuteUTC} ${schedule.hourUTC} * * *`;
    case 'weekly':
      return `${schedule.minuteUTC} ${schedule.hourUTC} * * ${DAY_NUMBERS[schedule.dayOfWeek]}`;
    case 'monthly':
      return `${schedule.minuteUTC} ${schedule.hourUTC} ${schedule.day} * *`;
    case 'cron':
      return schedule.cron;
  }
}

/** How a schedule reads in `portico crons`. */
export function describeSchedule(schedule: CronSchedule): string {
  if (schedule.type === 'interval') {
    const s = schedule.seconds;
    return s % 3600 === 0 ? `every ${s / 3600}h` : s % 60 === 0 ? `every ${s / 60}m` : `every ${s}s`;
  }
  return `${schedule.type === 'cron' ? 'cron' : schedule.type} "${cronExpression(schedule)}" UTC`;
}

/**
 * The jobs of a crons module's default export, checked: problems are
 * Convex's messages (a missing export, an expression that never matches, a
 * target that is not a mutation or action).
 */
export function planCrons(exported: unknown, present: boolean, kindOf: (name: string) => string | null): { crons: PlannedCron[]; problems: string[] } {
  const crons: PlannedCron[] = [];
  const problems: string[] = [];
  if (!present) return { crons, problems };
  if (exported === undefined) return { crons, problems: ['`functions/crons.ts` must have a default export of a Crons object.'] };
  if (!isCrons(exported)) return { crons, problems: ['The default export of `functions/crons.ts` is not a Crons object.'] };
  for (const [cronName, job] of Object.entries(exported.crons)) {
    const kind = kindOf(job.name);
    if (kind === null) {
      problems.push(`Cron job "${cronName}": there is no function ${job.name}`);
      continue;
    }
    if (kind !== 'mutation' && kind !== 'action') {
      problems.push(`Cron job "${cronName}": ${job.name} is a ${kind}; cron jobs run mutations and actions`);
      continue;
    }
    const spec = JSON.stringify(job);
    const schedule = job.schedule;
    if (schedule.type === 'interval') {
      const period = schedule.seconds * 1000;
      crons.push({ cronName, job, spec, next: (after) => after + period, first: (now) => now });
      continue;
    }
    try {
      const parsed = parseCron(cronExpression(schedule));
      const next = (after: number) => nextCronTime(parsed, after)!;
      crons.push({ cronName, job, spec, next, first: (now) => next(now) });
    } catch (error) {
      if (!(error instanceof CronSpecError)) throw error;
      problems.push(`Cron job "${cronName}": ${error.message}`);
    }
  }
  return { crons, problems };
}

function decodeRow(stored: StoredDocument): CronRow {
  const fields = JSON.parse(stored.json) as Omit<CronRow, 'id' | 'creationTime'>;
  return { id: stored.id, creationTime: stored.creationTime, ...fields };
}

async function writeRow(tx: WriteTx, row: Omit<CronRow, 'id' | 'creationTime'> & { id?: string; creationTime?: number }): Promise<void> {
  const fields: Record<string, Value> = { name: row.name, spec: row.spec, nextRun: row.nextRun };
  if (row.lastRun !== undefined) fields.lastRun = row.lastRun;
  const json = JSON.stringify(fields);
  if (row.id === undefined) {
    const id = newId(await tx.ensureTable(CRONS_TABLE));
    await tx.insert(CRONS_TABLE, { id, creationTime: Date.now(), json, fields });
  } else {
    await tx.replace(CRONS_TABLE, { id: row.id, creationTime: row.creationTime!, json, fields });
  }
}

async function allRows(tx: { scan: WriteTx['scan'] }): Promise<CronRow[]> {
  const rows = await tx.scan({ table: CRONS_TABLE, index: BY_NAME.name, range: { lower: null, lowerInclusive: true, upper: null, upperInclusive: true }, order: 'asc', limit: 100_000 });
  return rows.map(decodeRow);
}

export class CronRunner {
  /** The definition last written to the table by this instance, per store. */
  private synced = new WeakMap<Store, string>();
  private readonly reported = new Set<string>();
  private readonly running = new Set<string>();

  constructor(
    private readonly logger: Logger,
    /** Called when a run ends: the next one may be due sooner than planned. */
    private readonly ran: () => void = () => {},
  ) {}

  /** Runs the crons that are due; returns the earliest next run, or null. */
  async tick(executor: JobExecutor, exported: unknown, present: boolean): Promise<number | null> {
    const { store } = executor;
    const { crons, problems } = planCrons(exported, present, (name) => executor.kindOf(name));
    for (const problem of problems) {
      if (this.reported.has(problem)) continue;
      this.reported.add(problem);
      this.logger.error({ event: 'cron-invalid' }, problem);
    }
    const byName = new Map(crons.map((cron) => [cron.cronName, cron]));
    const definition = JSON.stringify(crons.map((cron) => [cron.cronName, cron.spec]));
    if (this.synced.get(store) !== definition) {
      await store.applySchema([{ name: CRONS_TABLE, indexes: [BY_NAME] }]);
      await this.sync(store, byName);
      this.synced.set(store, definition);
    }
    const now = Date.now();
    const rows = await store.read((tx) => allRows(tx));
    let earliest: number | null = null;
    for (const row of rows) {
      const cron = byName.get(row.name);
      if (!cron || row.spec !== cron.spec) continue;
      if (row.nextRun > now) {
        earliest = Math.min(earliest ?? Infinity, row.nextRun);
        continue;
      }
      if (this.running.has(row.name)) continue;
      this.running.add(row.name);
      // Not awaited: a long action must not hold up the other jobs.
      void this.run(executor, cron, row.id).then((ran) => {
        this.running.delete(row.name);
        if (ran) this.ran();
      });
    }
    return earliest;
  }

  /** Makes the table match the definition: new jobs added, changed ones re-planned, removed ones deleted. */
  private async sync(store: Store, crons: Map<string, PlannedCron>): Promise<void> {
    await store.write(async (tx) => {
      const now = Date.now();
      const rows = new Map((await allRows(tx)).map((row) => [row.name, row]));
      for (const [name, cron] of crons) {
        const row = rows.get(name);
        if (!row) await writeRow(tx, { name, spec: cron.spec, nextRun: cron.first(now) });
        else if (row.spec !== cron.spec) {
          const scheduleChanged = JSON.stringify((JSON.parse(row.spec) as CronJob).schedule) !== JSON.stringify(cron.job.schedule);
          await writeRow(tx, { ...row, spec: cron.spec, nextRun: scheduleChanged ? cron.first(now) : row.nextRun });
        }
      }
      for (const [name, row] of rows) if (!crons.has(name)) await tx.delete(CRONS_TABLE, row.id);
    }, WRITE);
  }

  /** One run, if this instance wins it; whether it ran. */
  private async run(executor: JobExecutor, cron: PlannedCron, rowId: string): Promise<boolean> {
    const started = performance.now();
    const target = cron.job.name;
    const job = { id: `cron:${cron.cronName}`, name: target, args: cron.job.args[0] ?? {} };
    const isAction = executor.kindOf(target) === 'action';
    let outcome = 'skipped';
    let error: string | undefined;
    try {
      await executor.store.write(async (tx) => {
        outcome = 'skipped';
        const stored = tx.getForUpdate ? await tx.getForUpdate(CRONS_TABLE, rowId) : await tx.get(CRONS_TABLE, rowId);
        if (stored === null || stored === 'locked') return;
        const row = decodeRow(stored);
        const now = Date.now();
        if (row.spec !== cron.spec || row.nextRun > now) return;
        // The overdue run happens once; the periods missed besides it are skipped.
        let next = cron.next(row.nextRun);
        let skipped = 0;
        while (next <= now && skipped < 100_000) {
          next = cron.next(next);
          skipped += 1;
        }
        if (skipped > 0) {
          this.logger.warn({ event: 'cron-skipped', cron: cron.cronName, skipped }, `Skipping ${skipped} run(s) of job ${cron.cronName} because multiple scheduled runs are in the past`);
        }
        await writeRow(tx, { ...row, nextRun: next, lastRun: now });
        if (isAction) {
          outcome = 'claimed';
          return;
        }
        try {
          await tx.savepoint(() => executor.runScheduled(job, tx));
          outcome = 'success';
        } catch (caught) {
          if (caught instanceof DatabaseUnavailableError) throw caught;
          outcome = 'failed';
          error = caught instanceof Error ? caught.message : String(caught);
        }
      }, WRITE);
      if (outcome === 'claimed') {
        try {
          await executor.runScheduled(job);
          outcome = 'success';
        } catch (caught) {
          outcome = 'failed';
          error = caught instanceof Error ? caught.message : String(caught);
        }
      }
    } catch (caught) {
      this.logger.warn({ event: 'cron-retry', cron: cron.cronName, err: caught }, `cron ${cron.cronName}: ${(caught as Error)?.message ?? caught}; trying again shortly`);
      return false;
    }
    if (outcome === 'skipped') return false;
    const ms = Math.round(performance.now() - started);
    this.logger[outcome === 'failed' ? 'error' : 'info']({ event: 'cron-run', cron: cron.cronName, name: canonical(target), outcome, ms, ...(error ? { error } : {}) }, `cron ${cron.cronName} (${target}): ${outcome}${error ? `: ${error}` : ''}`);
    return true;
  }
}

function canonical(name: string): string {
  try {
    return parseFunctionName(name).canonical;
  } catch {
    return name;
  }
}
