import type { JSONValue } from '../../values/value.js';
import type { ReadSet } from '../../database/read-set.js';
import type { CommitFeed, Committed } from '../../database/write-set.js';
import { activeMetrics } from '../../metrics/metrics.js';

// Query results kept until a committed write could change them, as Convex
// does. Each entry keeps what its query read (a ReadSet); each commit the
// store announces drops the entries whose reads it touches. Past its size,
// the least recently used tenth is dropped at once: a hit only stamps its
// entry, since moving it to the end of a large Map (delete, then set) made
// V8 rehash the whole table (measured: 26 µs per hit at 10,000 entries).
//
// A result is kept only for a call seen before (a doorkeeper, as in
// TinyLFU): calls that never repeat (an argument that changes every time)
// would otherwise fill the cache with entries the GC must keep walking
// (measured: a miss cost 9 µs more with 10,000 such entries kept, 3 µs with
// 100). A call seen for the first time runs without tracking its reads.
//
// A query that ran while a commit landed may have read the state before it:
// every commit gets a sequence number, and a result is only stored if none
// of the commits since its query began touches what it read. Commits are
// kept only while a query that began before them is still running: kept for
// a fixed count instead, a steady write load had the garbage collector
// promote and then sweep every write set (1,024 commits of 50 inserts:
// 20 MB at a time, major collections every 4 s and a mutation p99 of
// 12-37 ms).

/** Commits kept for the queries running across them, at most: a query that missed more is not kept. */
const RECENT_COMMITS = 1024;
/** A query that looked at more documents than this is not kept: its answer is likely large, and every write to its tables would check its reads. */
const MAX_DOCUMENTS_READ = 4096;
/** Bits of the doorkeeper (a one-hash Bloom filter of calls seen once): 128 KiB. */
const DOORKEEPER_BITS = 1 << 20;
/** Calls it takes before starting over: at most 1 in 16 new calls is taken for one seen. */
const DOORKEEPER_CALLS = DOORKEEPER_BITS / 16;

interface Entry {
  key: string;
  value: JSONValue;
  reads: ReadSet;
  tables: string[];
  /** When it was last used, on the cache's own clock. */
  used: number;
}

export class QueryCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byTable = new Map<string, Set<Entry>>();
  /** Calls (function and arguments) whose result depended on the caller's identity. */
  private readonly identityBound = new Set<string>();
  private sequence = 0;
  private clock = 0;
  private readonly doorkeeper = new Uint32Array(DOORKEEPER_BITS / 32);
  private doorkeeperFill = 0;
  /** The last commits, oldest first, the newest being commit `sequence`. */
  private readonly recent: Committed[] = [];
  /** Where the tracked queries running now began, with how many began there; oldest first. */
  private readonly running = new Map<number, number>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly maxEntries: number,
    commits: CommitFeed,
  ) {
    this.unsubscribe = commits.subscribe((committed) => this.committed(committed));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.clear();
  }

  private closed = false;

  get size(): number {
    return this.entries.size;
  }

  /**
   * A query whose result may be kept is beginning: returns its position in
   * the commit sequence, for `put`. Every `begin` must be followed by `end`.
   */
  begin(): number {
    const at = this.sequence;
    this.running.set(at, (this.running.get(at) ?? 0) + 1);
    return at;
  }

  /** The query that began at `at` is over (kept or not). */
  end(at: number): void {
    const running = this.running.get(at);
    if (running === undefined) return;
    if (running === 1) this.running.delete(at);
    else this.running.set(at, running - 1);
  }

  /** Commits kept for the queries running now. */
  get commitsHeld(): number {
    return this.recent.length;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): JSONValue | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    entry.used = ++this.clock;
    return entry.value;
  }

  /**
   * Whether a result for `key` would be kept: true if the key was seen
   * before (or shares a bit with one that was). Each call marks it seen; the
   * doorkeeper starts over after DOORKEEPER_CALLS new calls.
   */
  admits(key: string): boolean {
    // FNV-1a over the UTF-16 code units.
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    const bit = (hash >>> 0) & (DOORKEEPER_BITS - 1);
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    if ((this.doorkeeper[word]! & mask) !== 0) return true;
    if (++this.doorkeeperFill > DOORKEEPER_CALLS) {
      this.doorkeeper.fill(0);
      this.doorkeeperFill = 0;
    }
    this.doorkeeper[word]! |= mask;
    return false;
  }

  dependsOnIdentity(call: string): boolean {
    return this.identityBound.has(call);
  }

  /**
   * Keeps a result under `key` unless a commit since `since` (its query's
   * starting position) may have changed what it read.
   */
  put(key: string, value: JSONValue, reads: ReadSet, since: number, identityCall?: string): boolean {
    if (this.closed || reads.documentsRead > MAX_DOCUMENTS_READ || !this.unchangedSince(since, reads)) return false;
    if (identityCall !== undefined) {
      // Only a hint of where to look: starting it over costs a miss, never a wrong answer.
      if (this.identityBound.size >= this.maxEntries) this.identityBound.clear();
      this.identityBound.add(identityCall);
    }
    this.remove(this.entries.get(key));
    const entry: Entry = { key, value, reads, tables: reads.tables(), used: ++this.clock };
    this.entries.set(key, entry);
    for (const table of entry.tables) {
      let set = this.byTable.get(table);
      if (!set) this.byTable.set(table, (set = new Set()));
      set.add(entry);
    }
    if (this.entries.size > this.maxEntries) this.evict();
    return true;
  }

  /** Drops the least recently used tenth (at least one). */
  private evict(): void {
    const byAge = [...this.entries.values()].sort((a, b) => a.used - b.used);
    for (const entry of byAge.slice(0, Math.max(1, Math.floor(this.maxEntries / 10)))) this.remove(entry);
  }

  private unchangedSince(since: number, reads: ReadSet): boolean {
    const missed = this.sequence - since;
    if (missed === 0) return true;
    if (missed > this.recent.length) return false;
    for (let i = this.recent.length - missed; i < this.recent.length; i++) {
      const committed = this.recent[i]!;
      if (committed === 'everything' || committed.catalog) return false;
      for (const change of committed.changes) if (reads.touchedBy(change)) return false;
    }
    return true;
  }

  private committed(committed: Committed): void {
    this.sequence++;
    if (this.running.size === 0) {
      // Nobody running can need it: a query that begins now starts after it.
      this.recent.length = 0;
    } else {
      this.recent.push(committed);
      // Positions only grow, so the Map's first key is the oldest query's.
      const needed = Math.min(this.sequence - this.running.keys().next().value!, RECENT_COMMITS);
      if (this.recent.length > needed) this.recent.splice(0, this.recent.length - needed);
    }
    if (this.entries.size === 0) return;
    // A new table changes what ids and names resolve to, also outside any
    // transaction (normalizeId): rare enough to drop everything.
    if (committed === 'everything' || committed.catalog) {
      activeMetrics()?.queryCacheInvalidated(this.entries.size);
      this.clear();
      return;
    }
    let dropped = 0;
    for (const change of committed.changes) {
      const candidates = this.byTable.get(change.table);
      if (!candidates) continue;
      for (const entry of candidates) if (entry.reads.touchedBy(change)) (this.remove(entry), dropped++);
    }
    if (dropped > 0) activeMetrics()?.queryCacheInvalidated(dropped);
  }

  private remove(entry: Entry | undefined): void {
    if (entry === undefined || this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    for (const table of entry.tables) {
      const set = this.byTable.get(table)!;
      set.delete(entry);
      if (set.size === 0) this.byTable.delete(table);
    }
  }

  private clear(): void {
    this.entries.clear();
    this.byTable.clear();
    this.identityBound.clear();
  }
}
