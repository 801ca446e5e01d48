import { convexToJson, type JSONValue, type Value } from '../values/value.js';
import { functionNameOf } from '../functions/references.js';

// `cronJobs()`, as in Convex: functions/crons.ts default-exports the object
// it returns, with one entry per job. Checks and messages are Convex's; a
// cron expression is checked when the project loads (cron-spec.ts).

export type CronSchedule =
  | { type: 'interval'; seconds: number }
  | { type: 'hourly'; minuteUTC: number }
  | { type: 'daily'; hourUTC: number; minuteUTC: number }
  | { type: 'weekly'; dayOfWeek: DayOfWeek; hourUTC: number; minuteUTC: number }
  | { type: 'monthly'; day: number; hourUTC: number; minuteUTC: number }
  | { type: 'cron'; cron: string };

export type DayOfWeek = 'sunday' | 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday';
const DAYS: DayOfWeek[] = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

export interface CronJob {
  /** The target, as written ("messages:cleanup"). */
  name: string;
  /** [argsObject], convex_encoded_json. */
  args: JSONValue[];
  schedule: CronSchedule;
}

type Reference = string | object;
type Args = Record<string, any>;

const CRONS_MARK = Symbol.for('portico.crons');

function integer(value: unknown, min: number, max: number, message: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new Error(message);
  return value;
}
const hourOf = (value: unknown) => integer(value, 0, 23, 'Hour of day must be an integer from 0 to 23');
const minuteOf = (value: unknown) => integer(value, 0, 59, 'Minute of hour must be an integer from 0 to 59');

/** A stable minute for a job that did not pin one, so jobs do not all start at :00. */
function splayMinute(cronName: string): number {
  let hash = 0;
  for (const char of cronName) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return hash % 60;
}

export class Crons {
  readonly crons: Record<string, CronJob> = {};
  readonly isCrons = true;
  readonly [CRONS_MARK] = true;

  /**
   * Runs a mutation or action every N seconds, minutes or hours; the first
   * run is when the job is deployed.
   *
   * @example crons.interval('clear presence', { minutes: 5 }, internal.presence.clear);
   */
  interval(cronIdentifier: string, schedule: { seconds?: number; minutes?: number; hours?: number }, functionReference: Reference, args?: Args): void {
    const given = (['seconds', 'minutes', 'hours'] as const).filter((unit) => schedule?.[unit] !== undefined);
    if (given.length !== 1) throw new Error('Must specify one of seconds, minutes, or hours');
    const unit = given[0]!;
    const amount = schedule[unit];
    if (typeof amount !== 'number' || !Number.isInteger(amount) || amount <= 0) throw new Error('Interval must be an integer greater than 0');
    this.add(cronIdentifier, { type: 'interval', seconds: amount * { seconds: 1, minutes: 60, hours: 3600 }[unit] }, functionReference, args);
  }

  hourly(cronIdentifier: string, schedule: { minuteUTC?: number } | Reference, functionReference?: Reference | Args, args?: Args): void {
    // hourly(name, ref, args?) without a schedule, as newer Convex allows.
    if (typeof schedule === 'string' || isReference(schedule)) return this.hourly(cronIdentifier, {}, schedule as Reference, functionReference as Args);
    const { minuteUTC } = schedule as { minuteUTC?: number };
    this.add(cronIdentifier, { type: 'hourly', minuteUTC: minuteUTC === undefined ? splayMinute(cronIdentifier) : minuteOf(minuteUTC) }, functionReference as Reference, args);
  }

  daily(cronIdentifier: string, schedule: { hourUTC: number; minuteUTC?: number }, functionReference: Reference, args?: Args): void {
    const hourUTC = hourOf(schedule?.hourUTC);
    const minuteUTC = schedule.minuteUTC === undefined ? splayMinute(cronIdentifier) : minuteOf(schedule.minuteUTC);
    this.add(cronIdentifier, { type: 'daily', hourUTC, minuteUTC }, functionReference, args);
  }

  weekly(cronIdentifier: string, schedule: { dayOfWeek: DayOfWeek; hourUTC: number; minuteUTC?: number }, functionReference: Reference, args?: Args): void {
    if (!DAYS.includes(schedule?.dayOfWeek)) throw new Error('Day of week must be a string like "monday".');
    const hourUTC = hourOf(schedule.hourUTC);
    const minuteUTC = schedule.minuteUTC === undefined ? splayMinute(cronIdentifier) : minuteOf(schedule.minuteUTC);
    this.add(cronIdentifier, { type: 'weekly', dayOfWeek: schedule.dayOfWeek, hourUTC, minuteUTC }, functionReference, args);
  }

  /** Days above 28 skip the months that lack them. */
  monthly(cronIdentifier: string, schedule: { day: number; hourUTC: number; minuteUTC?: number }, functionReference: Reference, args?: Args): void {
    const day = integer(schedule?.day, 1, 31, 'Day of month must be an integer from 1 to 31');
    const hourUTC = hourOf(schedule.hourUTC);
    const minuteUTC = schedule.minuteUTC === undefined ? splayMinute(cronIdentifier) : minuteOf(schedule.minuteUTC);
    this.add(cronIdentifier, { type: 'monthly', day, hourUTC, minuteUTC }, functionReference, args);
  }

  /**
   * A five-field cron expression, in UTC ("minute hour day month weekday").
   *
   * @example crons.cron('nightly report', '0 3 * * *', internal.reports.nightly);
   */
  cron(cronIdentifier: string, cron: string, functionReference: Reference, args?: Args): void {
    this.add(cronIdentifier, { type: 'cron', cron }, functionReference, args);
  }

  /** The jobs as JSON, in Convex's shape. */
  export(): string {
    return JSON.stringify(this.crons);
  }

  private add(cronIdentifier: string, schedule: CronSchedule, functionReference: Reference, args: Args | undefined): void {
    if (typeof cronIdentifier !== 'string' || !/^[\x20-\x7e]+$/.test(cronIdentifier)) {
      throw new Error(`Invalid cron identifier ${cronIdentifier}: use ASCII letters that are not control characters`);
    }
    if (cronIdentifier in this.crons) throw new Error(`Cron identifier registered twice: ${cronIdentifier}`);
    if (!isReference(functionReference) && typeof functionReference !== 'string') {
      throw new Error('Expected function reference like "api.file.func" or "internal.file.func", but received function handle');
    }
    const object = args ?? {};
    if (typeof object !== 'object' || Array.isArray(object)) throw new Error(`The arguments to a Convex function must be an object. Received: ${String(args)}`);
    const encoded = convexToJson(object as Value);
    if (JSON.stringify(encoded).length > 1024 * 1024) throw new Error(`Arguments of cron job ${cronIdentifier} are larger than 1 MiB`);
    this.crons[cronIdentifier] = { name: functionNameOf(functionReference), args: [encoded], schedule };
  }
}

function isReference(value: unknown): boolean {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  try {
    functionNameOf(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The cron jobs of a project: default-export it from functions/crons.ts.
 *
 * @example
 * const crons = cronJobs();
 * crons.daily('daily digest', { hourUTC: 8, minuteUTC: 0 }, internal.digest.send);
 * export default crons;
 */
export function cronJobs(): Crons {
  return new Crons();
}

export function isCrons(value: unknown): value is Crons {
  return typeof value === 'object' && value !== null && (value as any)[CRONS_MARK] === true && typeof (value as Crons).crons === 'object';
}
