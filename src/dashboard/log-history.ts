import { setLogTap } from '../log/log-tap.js';
import { answerGather } from '../metrics/cluster-gather.js';

// The dashboard's Logs view reads the last lines the process logged, as the
// JSON lines the log already writes (request lines, console lines of
// functions, start and reload events). They are kept raw: nothing is parsed
// on the request path, the browser parses what it shows. A bounded ring:
// the oldest line goes when a new one comes past the limit. Reload events
// are also kept apart, so the Health view has them after the ring moved on.

const HISTORY_LINES = 10_000;
const RELOAD_EVENTS = 100;

/** What one process answers: its lines after the cursor, and where it now stands. */
export interface HistoryPart {
  pid: number;
  /** Sequence number of the last line this process logged. */
  last: number;
  lines: string[];
}

class LogHistory {
  private readonly lines: string[] = new Array(HISTORY_LINES);
  /** Number of lines ever added; the line numbered n sits at n % HISTORY_LINES. */
  private count = 0;
  readonly reloads: string[] = [];

  add(line: string): void {
    // Kept as written (with its newline): this runs for every log line.
    this.lines[this.count % HISTORY_LINES] = line;
    this.count += 1;
    if (isDeploymentEvent(line)) {
      this.reloads.push(line);
      if (this.reloads.length > RELOAD_EVENTS) this.reloads.shift();
    }
  }

  /** Lines numbered above `after` (at most the ring's length). */
  since(after: number): HistoryPart {
    const from = Math.max(after, this.count - HISTORY_LINES, 0);
    const lines: string[] = [];
    for (let n = from; n < this.count; n++) lines.push(this.lines[n % HISTORY_LINES]!.trimEnd());
    return { pid: process.pid, last: this.count, lines };
  }
}

/**
 * A start or reload line. pino writes `{"level":L,"time":T,"pid":P,` and
 * then the line's own fields, and those lines begin with `event` (reloads)
 * or `url` (the start): one look at a fixed place instead of a search
 * through every request line.
 */
function isDeploymentEvent(line: string): boolean {
  const pid = line.indexOf(',"pid":', 20);
  if (pid === -1) return false;
  const next = line.indexOf(',', pid + 7);
  return line.startsWith(',"event":"reload', next) || line.startsWith(',"url":', next);
}

let history: LogHistory | null = null;

/** Starts keeping the log history (once per process; the dashboard turns it on). */
export function keepLogHistory(): void {
  if (history) return;
  const kept = (history = new LogHistory());
  setLogTap((line) => kept.add(line));
  answerGather('dashboard:logs', (cursor) => kept.since(Number((cursor as Record<string, number> | null)?.[process.pid] ?? 0)));
  answerGather('dashboard:reloads', () => kept.reloads.map((line) => line.trimEnd()));
}
