// Five-field cron expressions ("minute hour day-of-month month day-of-week"),
// in UTC: numbers, `*`, lists, ranges and steps, month and day names
// (jan-dec, sun-sat); Sunday is 0 (7 is accepted too). As in cron, when both
// day fields are restricted a day matching either one matches.

export class CronSpecError extends Error {
  override name = 'CronSpecError';
}

export interface CronSpec {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  anyDay: boolean;
  anyWeekday: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function field(text: string, min: number, max: number, label: string, names?: string[], offset = 0): Set<number> {
  const values = new Set<number>();
  const number = (part: string): number => {
    const named = names?.indexOf(part.toLowerCase()) ?? -1;
    if (named !== -1) return named + offset;
    if (!/^\d+$/.test(part)) throw new CronSpecError(`invalid ${label} "${part}"`);
    return Number(part);
  };
  for (const item of text.split(',')) {
    const [range, stepText] = item.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new CronSpecError(`invalid step "${stepText}" in the ${label} field`);
    let low: number;
    let high: number;
    if (range === '*') [low, high] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [low, high] = [number(a), number(b)];
    } else {
      low = number(range);
      high = stepText === undefined ? low : max;
    }
    if (low < min || high > max || low > high) throw new CronSpecError(`${label} "${range}" is out of range (${min}-${max})`);
    for (let value = low; value <= high; value += step) values.add(value);
  }
  return values;
}

/** Parses a five-field expression; throws CronSpecError saying what is wrong. */
export function parseCron(expression: string): CronSpec {
  const parts = String(expression).trim().split(/\s+/);
  if (parts.length !== 5) throw new CronSpecError(`"${expression}" is not a cron expression: it needs five fields (minute hour day-of-month month day-of-week), it has ${parts.length}`);
  const [minute, hour, day, month, weekday] = parts as [string, string, string, string, string];
  const weekdays = field(weekday, 0, 7, 'day of week', WEEKDAYS);
  if (weekdays.delete(7)) weekdays.add(0);
  const spec: CronSpec = {
    minutes: field(minute, 0, 59, 'minute'),
    hours: field(hour, 0, 23, 'hour'),
    days: field(day, 1, 31, 'day of month'),
    months: field(month, 1, 12, 'month', MONTHS, 1),
    weekdays,
    anyDay: day === '*' || day.startsWith('*/'),
    anyWeekday: weekday === '*' || weekday.startsWith('*/'),
  };
  if (nextCronTime(spec, Date.UTC(2000, 0, 1)) === null) throw new CronSpecError(`"${expression}" will never match any time`);
  return spec;
}

function dayMatches(spec: CronSpec, date: Date): boolean {
  const day = spec.days.has(date.getUTCDate());
  const weekday = spec.weekdays.has(date.getUTCDay());
  if (spec.anyDay && spec.anyWeekday) return true;
  if (spec.anyDay) return weekday;
  if (spec.anyWeekday) return day;
  return day || weekday;
}

/** The first matching minute strictly after `after` (ms since the epoch), or null within 8 years. */
export function nextCronTime(spec: CronSpec, after: number): number | null {
  const date = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  const limit = after + 8 * 366 * 24 * 3600_000;
  while (date.getTime() <= limit) {
    if (!spec.months.has(date.getUTCMonth() + 1)) {
      date.setUTCMonth(date.getUTCMonth() + 1, 1);
      date.setUTCHours(0, 0, 0, 0);
    } else if (!dayMatches(spec, date)) {
      date.setUTCDate(date.getUTCDate() + 1);
      date.setUTCHours(0, 0, 0, 0);
    } else if (!spec.hours.has(date.getUTCHours())) {
      date.setUTCHours(date.getUTCHours() + 1, 0, 0, 0);
    } else if (!spec.minutes.has(date.getUTCMinutes())) {
      date.setUTCMinutes(date.getUTCMinutes() + 1, 0, 0);
    } else {
      return date.getTime();
    }
  }
  return null;
}
