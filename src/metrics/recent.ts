// The last hour in one-minute buckets, per key (a function or a route): how
// many calls, how many failed, and a coarse duration histogram from which
// p50 and p99 are read. Small and fixed-size: 60 buckets of a few numbers
// per key, keys from bounded sets. Processes' stats add up bucket by bucket,
// which is how `--workers` shows one chart.

/** Upper bounds of the duration classes, in milliseconds; the last is open. */
const BOUNDS_MS = [0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, Infinity];
const MINUTES = 60;
const MINUTE_MS = 60_000;

interface Bucket {
  minute: number;
  calls: number;
  errors: number;
  classes: number[];
}

/** One key's minutes, oldest first: a plain object that crosses IPC. */
export interface RecentSeries {
  key: string;
  minutes: { minute: number; calls: number; errors: number; classes: number[] }[];
}

/** What a chart draws: per minute (ms since epoch), calls, errors, p50 and p99 in ms. */
export interface ChartPoint {
  minute: number;
  calls: number;
  errors: number;
  p50: number | null;
  p99: number | null;
}

export class RecentStats {
  private readonly series = new Map<string, Bucket[]>();

  constructor(private readonly now: () => number = Date.now) {}

  record(key: string, ms: number, failed: boolean): void {
    let ring = this.series.get(key);
    if (ring === undefined) this.series.set(key, (ring = []));
    const minute = Math.floor(this.now() / MINUTE_MS);
    const slot = minute % MINUTES;
    let bucket = ring[slot];
    if (bucket === undefined || bucket.minute !== minute) ring[slot] = bucket = { minute, calls: 0, errors: 0, classes: new Array(BOUNDS_MS.length).fill(0) };
    bucket.calls += 1;
    if (failed) bucket.errors += 1;
    let i = 0;
    while (ms > BOUNDS_MS[i]!) i++;
    bucket.classes[i]! += 1;
  }

  /** The last hour of every key, for this process. */
  snapshot(): RecentSeries[] {
    const oldest = Math.floor(this.now() / MINUTE_MS) - MINUTES + 1;
    return [...this.series].map(([key, ring]) => ({
      key,
      minutes: ring.filter((b) => b !== undefined && b.minute >= oldest).sort((a, b) => a.minute - b.minute).map((b) => ({ ...b, classes: [...b.classes] })),
    }));
  }
}

/** Several processes' snapshots as one chart per key, one point per minute of the last hour. */
export function chartsOf(snapshots: RecentSeries[][], now = Date.now()): Record<string, ChartPoint[]> {
  const last = Math.floor(now / MINUTE_MS);
  const merged = new Map<string, Map<number, { calls: number; errors: number; classes: number[] }>>();
  for (const snapshot of snapshots) {
    for (const { key, minutes } of snapshot) {
      let byMinute = merged.get(key);
      if (!byMinute) merged.set(key, (byMinute = new Map()));
      for (const m of minutes) {
        const into = byMinute.get(m.minute) ?? { calls: 0, errors: 0, classes: new Array(BOUNDS_MS.length).fill(0) };
        into.calls += m.calls;
        into.errors += m.errors;
        m.classes.forEach((count, i) => (into.classes[i] += count));
        byMinute.set(m.minute, into);
      }
    }
  }
  const charts: Record<string, ChartPoint[]> = {};
  for (const [key, byMinute] of merged) {
    const points: ChartPoint[] = [];
    for (let minute = last - MINUTES + 1; minute <= last; minute++) {
      const m = byMinute.get(minute);
      points.push({ minute: minute * MINUTE_MS, calls: m?.calls ?? 0, errors: m?.errors ?? 0, p50: m ? quantile(m.classes, 0.5) : null, p99: m ? quantile(m.classes, 0.99) : null });
    }
    charts[key] = points;
  }
  return charts;
}

/** The upper bound of the class holding the q-quantile (the last class reports its lower bound). */
function quantile(classes: number[], q: number): number | null {
  const total = classes.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < classes.length; i++) {
    seen += classes[i]!;
    if (seen >= rank) return Number.isFinite(BOUNDS_MS[i]!) ? BOUNDS_MS[i]! : BOUNDS_MS[i - 1]!;
  }
  return null;
}

/** Functions' and routes' recent stats, for the dashboard's charts. */
export const recentFunctions = new RecentStats();
export const recentRoutes = new RecentStats();
