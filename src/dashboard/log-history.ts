import { setLogTap } from '../log/log-tap.js';
import { answerGather } from '../metrics/cluster-gather.js';

// The dashboard's Logs view reads the last lines the process logged, as the
// JSON lines the log already writes (request lines, console lines of
// functions, start and reload events). Nothing is parsed on the request
// path (the browser parses what it shows), and nothing is kept as a string:
// each line's bytes are copied into one ring of bytes, the oldest lines
// giving way to new ones. Keeping the last 10,000 lines as strings made the
// garbage collector copy and promote every request line, which measured
// 1.5-10 µs per request; a byte copy costs a fraction of one. Reload events
// are also kept apart, so the Health view has them after the ring moved on.

const HISTORY_LINES = 10_000;
/** Room for 10,000 lines of 400 bytes; longer lines mean fewer of them. */
const HISTORY_BYTES = 4 * 1024 * 1024;
/** A line that could take more than this (a huge console line) is kept as a string instead. */
const LARGEST_IN_RING = 256 * 1024;
const RELOAD_EVENTS = 100;

/** What one process answers: its lines after the cursor, and where it now stands. */
export interface HistoryPart {
  pid: number;
  /** Sequence number of the last line this process logged. */
  last: number;
  lines: string[];
}

export class LogHistory {
  private readonly bytes: Buffer;
  /** Where line n's bytes start in `bytes`, and how many there are (at n % lines). */
  private readonly starts: Int32Array;
  private readonly lengths: Int32Array;
  /** Lines too long for the ring, by number, while they are in the window. */
  private readonly large = new Map<number, string>();
  /** Number of lines ever added; lines numbered from `oldest` on are still held. */
  private count = 0;
  private oldest = 0;
  /** Where the next line's bytes go. */
  private at = 0;
  readonly reloads: string[] = [];

  constructor(
    private readonly maxLines = HISTORY_LINES,
    ringBytes = HISTORY_BYTES,
  ) {
    this.bytes = Buffer.allocUnsafe(ringBytes);
    this.starts = new Int32Array(maxLines);
    this.lengths = new Int32Array(maxLines);
  }

  add(line: string): void {
    // Kept as written (with its newline): this runs for every log line.
    const n = this.count;
    this.forget(n - this.maxLines + 1);
    const slot = n % this.maxLines;
    const worst = line.length * 3;
    if (worst > Math.min(LARGEST_IN_RING, this.bytes.length)) {
      this.large.set(n, line);
      this.lengths[slot] = -1;
    } else {
      if (this.at + worst > this.bytes.length) {
        // The line does not fit before the end: the end is given up, with the lines in it.
        this.giveUp(n, this.at, this.bytes.length - this.at);
        this.at = 0;
      }
      this.giveUp(n, this.at, worst);
      const written = this.bytes.write(line, this.at, 'utf8');
      this.starts[slot] = this.at;
      this.lengths[slot] = written;
      this.at += written;
    }
    this.count = n + 1;
    if (isDeploymentEvent(line)) {
      this.reloads.push(line);
      if (this.reloads.length > RELOAD_EVENTS) this.reloads.shift();
    }
  }

  /** Lines numbered above `after` that are still held. */
  since(after: number): HistoryPart {
    const lines: string[] = [];
    for (let n = Math.max(after, this.oldest); n < this.count; n++) {
      const slot = n % this.maxLines;
      const length = this.lengths[slot]!;
      const text = length === -1 ? this.large.get(n)! : this.bytes.toString('utf8', this.starts[slot], this.starts[slot]! + length);
      lines.push(text.trimEnd());
    }
    return { pid: process.pid, last: this.count, lines };
  }

  /**
   * Forgets the lines whose bytes lie in the `size` bytes from `from`: they
   * are the oldest held ones, next in the ring after `from`. Long lines kept
   * as strings before one of them go with it (the window has no holes).
   */
  private giveUp(n: number, from: number, size: number): void {
    for (;;) {
      let next = this.oldest;
      while (next < n && this.lengths[next % this.maxLines] === -1) next++;
      if (next >= n || !this.overlaps(next, from, size)) return;
      this.forget(next + 1);
    }
  }

  /** Whether line n's bytes (in the ring) meet the `size` bytes from `from`. */
  private overlaps(n: number, from: number, size: number): boolean {
    const slot = n % this.maxLines;
    const length = this.lengths[slot]!;
    const start = this.starts[slot]!;
    return start < from + size && start + length > from;
  }

  /** Lets go of every line numbered below `n`. */
  private forget(n: number): void {
    while (this.oldest < n) {
      if (this.lengths[this.oldest % this.maxLines] === -1) this.large.delete(this.oldest);
      this.oldest += 1;
    }
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
