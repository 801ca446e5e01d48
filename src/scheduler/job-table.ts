import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../values/value.js';
import { encodeKey, prefixUpperBound } from '../database/keys.js';
import { newId, tableNumberOf } from '../database/ids.js';
import type { IndexSpec, ReadTx, Store, StoredDocument, WriteTx } from '../database/store.js';

// Scheduled functions live in the `_scheduled_functions` system table, in
// Convex's shape: {name, args: [argsObject], scheduledTime, completedTime?,
// state: {kind}}. Functions read it with ctx.db.system.get/query; only the
// scheduler writes it. A job's index key starts with its state, so the due
// jobs are one range scan: pending, scheduledTime up to now.
//
// Running actions also hold a lease in `_scheduled_job_leases` that their
// instance keeps renewing; a lease that ran out belongs to an instance that
// died, and its action is marked failed, never run again (at most once).

export const JOBS_TABLE = '_scheduled_functions';
export const LEASES_TABLE = '_scheduled_job_leases';
const BY_STATE: IndexSpec = { name: 'by_state', fields: ['state.kind', 'scheduledTime'] };
const BY_EXPIRY: IndexSpec = { name: 'by_expiry', fields: ['expires'] };

export type JobState =
  | { kind: 'pending' }
  | { kind: 'inProgress' }
  | { kind: 'success' }
  | { kind: 'canceled' }
  | { kind: 'failed'; error: string };

export interface Job {
  id: string;
  creationTime: number;
  /** "module.js:export", as Convex names it. */
  name: string;
  /** The argument object, convex_encoded_json. */
  args: JSONValue;
  scheduledTime: number;
  completedTime?: number;
  state: JobState;
}

export interface Lease {
  id: string;
  jobId: string;
  expires: number;
}

/** Creates both tables with their indexes (idempotent). */
export async function openJobTables(store: Store): Promise<void> {
  await store.applySchema([
    { name: JOBS_TABLE, indexes: [BY_STATE] },
    { name: LEASES_TABLE, indexes: [BY_EXPIRY] },
  ]);
}

/** Whether `id` names a row of `_scheduled_functions` (as far as this process knows the table's number). */
export async function isJobId(tx: ReadTx, id: unknown): Promise<boolean> {
  const number = typeof id === 'string' ? tableNumberOf(id) : null;
  return number !== null && (await tx.tableName(number)) === JOBS_TABLE;
}

function decodeJob(stored: StoredDocument): Job {
  const fields = JSON.parse(stored.json) as { name: string; args: JSONValue[]; scheduledTime: number; completedTime?: number; state: JobState };
  const job: Job = { id: stored.id, creationTime: stored.creationTime, name: fields.name, args: fields.args[0] ?? {}, scheduledTime: fields.scheduledTime, state: fields.state };
  if (fields.completedTime !== undefined) job.completedTime = fields.completedTime;
  return job;
}

function jobFields(job: Omit<Job, 'id' | 'creationTime'>): { fields: Record<string, Value>; json: string } {
  const fields: Record<string, Value> = {
    name: job.name,
    args: [jsonToConvex(job.args)],
    scheduledTime: job.scheduledTime,
    state: { ...job.state },
  };
  if (job.completedTime !== undefined) fields.completedTime = job.completedTime;
  return { fields, json: JSON.stringify(convexToJson(fields)) };
}

export async function insertJob(tx: WriteTx, name: string, args: JSONValue, scheduledTime: number, state: JobState = { kind: 'pending' }): Promise<string> {
  const id = newId(await tx.ensureTable(JOBS_TABLE));
  const { fields, json } = jobFields({ name, args, scheduledTime, state });
  await tx.insert(JOBS_TABLE, { id, creationTime: nextCreationTime(), json, fields });
  return id;
}

export async function readJob(tx: ReadTx, id: string): Promise<Job | null> {
  const stored = await tx.get(JOBS_TABLE, id);
  return stored ? decodeJob(stored) : null;
}

/** The job, locked against other instances' claims; 'locked' when one holds it. */
export async function lockJob(tx: WriteTx, id: string): Promise<Job | null | 'locked'> {
  const stored = tx.getForUpdate ? await tx.getForUpdate(JOBS_TABLE, id) : await tx.get(JOBS_TABLE, id);
  if (stored === null || stored === 'locked') return stored;
  return decodeJob(stored);
}

export async function setJobState(tx: WriteTx, job: Job, state: JobState, completedTime?: number): Promise<void> {
  const { fields, json } = jobFields({ name: job.name, args: job.args, scheduledTime: job.scheduledTime, state, completedTime });
  await tx.replace(JOBS_TABLE, { id: job.id, creationTime: job.creationTime, json, fields });
}

/** Pending jobs due at `now`, earliest first. */
export async function dueJobs(tx: ReadTx, now: number, limit: number): Promise<Job[]> {
  const rows = await tx.scan({
    table: JOBS_TABLE,
    index: BY_STATE.name,
    range: { lower: encodeKey(['pending']), lowerInclusive: true, upper: prefixUpperBound(encodeKey(['pending', now])), upperInclusive: false },
    order: 'asc',
    limit,
  });
  return rows.map(decodeJob);
}

/** Finished jobs (success, failed, canceled) completed before `cutoff`: Convex keeps them 7 days. */
export async function finishedBefore(tx: ReadTx, cutoff: number, limit: number): Promise<Job[]> {
  const found: Job[] = [];
  for (const kind of ['canceled', 'failed', 'success']) {
    // scheduledTime <= completedTime, so the rows to look at are those scheduled before the cutoff.
    const rows = await tx.scan({
      table: JOBS_TABLE,
      index: BY_STATE.name,
      range: { lower: encodeKey([kind]), lowerInclusive: true, upper: encodeKey([kind, cutoff]), upperInclusive: false },
      order: 'asc',
      limit,
    });
    for (const job of rows.map(decodeJob)) if ((job.completedTime ?? Infinity) < cutoff) found.push(job);
  }
  return found;
}

/** The earliest pending job's scheduled time, or null. */
export async function nextDueTime(tx: ReadTx): Promise<number | null> {
  const pending = encodeKey(['pending']);
  const rows = await tx.scan({ table: JOBS_TABLE, index: BY_STATE.name, range: { lower: pending, lowerInclusive: true, upper: prefixUpperBound(pending), upperInclusive: false }, order: 'asc', limit: 1 });
  return rows[0] ? decodeJob(rows[0]).scheduledTime : null;
}

export async function insertLease(tx: WriteTx, jobId: string, expires: number): Promise<string> {
  const id = newId(await tx.ensureTable(LEASES_TABLE));
  const fields: Record<string, Value> = { jobId, expires };
  await tx.insert(LEASES_TABLE, { id, creationTime: nextCreationTime(), json: JSON.stringify(fields), fields });
  return id;
}

export async function renewLease(tx: WriteTx, lease: Lease, expires: number): Promise<void> {
  const current = await tx.get(LEASES_TABLE, lease.id);
  if (!current) return;
  const fields: Record<string, Value> = { jobId: lease.jobId, expires };
  await tx.replace(LEASES_TABLE, { id: lease.id, creationTime: current.creationTime, json: JSON.stringify(fields), fields });
}

/** Leases that ran out before `now`: their instance stopped renewing them. */
export async function expiredLeases(tx: ReadTx, now: number, limit: number): Promise<Lease[]> {
  const rows = await tx.scan({
    table: LEASES_TABLE,
    index: BY_EXPIRY.name,
    range: { lower: null, lowerInclusive: true, upper: encodeKey([now]), upperInclusive: false },
    order: 'asc',
    limit,
  });
  return rows.map((row) => {
    const fields = JSON.parse(row.json) as { jobId: string; expires: number };
    return { id: row.id, jobId: fields.jobId, expires: fields.expires };
  });
}

let lastCreationTime = 0;
function nextCreationTime(): number {
  const now = performance.timeOrigin + performance.now();
  lastCreationTime = now > lastCreationTime ? now : lastCreationTime + 0.001;
  return lastCreationTime;
}
