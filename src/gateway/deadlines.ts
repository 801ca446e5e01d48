// Route timeouts for every request in flight, on one timer.
//
// A setTimeout/clearTimeout pair per request measured about 3% of a
// hello-world request. Timeouts are long (120 s by default) and need not be
// exact to the millisecond, so in-flight requests sit in a slot array with
// their deadline, and one timer sweeps it a few times per shortest timeout.
// The timer runs only while something is in flight.
//
// Why slots and not a Set: a long-lived Set, iterated by the sweep while
// requests came and went, kept finished requests (through each deadline's
// callback) reachable from the old generation, so every request survived
// young collections and was promoted: scavenges went from 0.5 ms to 4.5 ms
// and a mutation through an HTTP action lost a fifth of its throughput
// (test/gateway/deadlines.test.ts). Cancelling nulls the slot, which drops
// the only reference at once.

export interface Deadline {
  at: number;
  expire: () => void;
  slot: number;
}

const MIN_TICK_MS = 5;
const MAX_TICK_MS = 250;

export class Deadlines {
  private readonly slots: (Deadline | null)[] = [];
  /** Indexes of empty slots, reused before the array grows. */
  private readonly free: number[] = [];
  private live = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickMs = MAX_TICK_MS;

  /** Calls `expire` once `ms` have passed, unless cancelled first. */
  add(ms: number, expire: () => void): Deadline {
    const slot = this.free.length > 0 ? this.free.pop()! : this.slots.length;
    const deadline: Deadline = { at: Date.now() + ms, expire, slot };
    this.slots[slot] = deadline;
    this.live++;
    // Sweep often enough that a deadline fires within a tenth of its timeout.
    const tick = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(ms / 10)));
    if (this.timer === null || tick < this.tickMs) this.start(tick);
    return deadline;
  }

  /** Forgets `deadline`; cancelling twice, or after it expired, does nothing. */
  cancel(deadline: Deadline): void {
    const { slot } = deadline;
    if (slot < 0 || this.slots[slot] !== deadline) return;
    this.slots[slot] = null;
    this.free.push(slot);
    deadline.slot = -1;
    this.live--;
  }

  /** Deadlines not yet expired or cancelled. */
  get size(): number {
    return this.live;
  }

  private start(tickMs: number): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.tickMs = tickMs;
    this.timer = setInterval(this.sweep, tickMs);
    // In-flight requests keep the process alive through their sockets; the sweep need not.
    this.timer.unref();
  }

  private readonly sweep = () => {
    if (this.live === 0) {
      clearInterval(this.timer!);
      this.timer = null;
      this.tickMs = MAX_TICK_MS;
      // A burst may have grown the array; an idle gateway gives it back.
      this.slots.length = 0;
      this.free.length = 0;
      return;
    }
    const now = Date.now();
    for (let i = 0; i < this.slots.length; i++) {
      const deadline = this.slots[i];
      if (deadline != null && deadline.at <= now) {
        this.cancel(deadline);
        deadline.expire();
      }
    }
  };
}
