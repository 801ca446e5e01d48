// Route timeouts for every request in flight, on one timer.
//
// A setTimeout/clearTimeout pair per request measured about 3% of a
// hello-world request. Timeouts are long (120 s by default) and need not be
// exact to the millisecond, so in-flight requests sit in a Set with their
// deadline, and one timer sweeps the Set a few times per shortest timeout.
// The timer runs only while something is in flight.

export interface Deadline {
  at: number;
  expire: () => void;
}

const MIN_TICK_MS = 5;
const MAX_TICK_MS = 250;

export class Deadlines {
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | null = null;
  private tickMs = MAX_TICK_MS;

  /** Calls `expire` once `ms` have passed, unless cancelled first. */
  add(ms: number, expire: () => void): Deadline {
    const deadline: Deadline = { at: Date.now() + ms, expire };
    this.pending.add(deadline);
    // Sweep often enough that a deadline fires within a tenth of its timeout.
    const tick = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(ms / 10)));
    if (this.timer === null || tick < this.tickMs) this.start(tick);
    return deadline;
  }

  cancel(deadline: Deadline): void {
    this.pending.delete(deadline);
  }

  private start(tickMs: number): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.tickMs = tickMs;
    this.timer = setInterval(this.sweep, tickMs);
  }

  private readonly sweep = () => {
    if (this.pending.size === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      this.tickMs = MAX_TICK_MS;
      return;
    }
    const now = Date.now();
    for (const deadline of this.pending) {
      if (deadline.at <= now) {
        this.pending.delete(deadline);
        deadline.expire();
      }
    }
  };
}
