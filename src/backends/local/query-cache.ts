import type { JSONValue } from '../../values/value.js';
import type { ReadSet } from '../../database/read-set.js';
import type { CommitFeed, Committed } from '../../database/write-set.js';
import { activeMetrics } from '../../metrics/metrics.js';

// Query results kept until a committed write could change them, as Convex
// does. Each entry keeps what its query read (a ReadSet); each commit the
// store announces drops the entries whose reads it touches. Entries are
// kept in least-recently-used order up to a count.
//
// A query that ran while a commit landed may have read the state before it:
// every commit gets a sequence number, recent commits are kept, and a result
// is only stored if none of the commits since its query began touches what
// it read.

const RECENT_COMMITS = 1024;

interface Entry {
  key: string;
  value: JSONValue;
  reads: ReadSet;
  tables: string[];
}

export class QueryCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byTable = new Map<string, Set<Entry>>();
  /** Calls (function and arguments) whose result depended on the caller's identity. */
  private readonly identityBound = new Set<string>();
  private sequence = 0;
  private readonly recent: Committed[] = [];
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

  /** The current position in the commit sequence: a query records it before it begins. */
  get position(): number {
    return this.sequence;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  get(key: string): JSONValue | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  dependsOnIdentity(call: string): boolean {
    return this.identityBound.has(call);
  }

  /**
   * Keeps a result under `key` unless a commit since `since` (its query's
   * starting position) may have changed what it read.
   */
  put(key: string, value: JSONValue, reads: ReadSet, since: number, identityCall?: string): boolean {
    if (this.closed || reads.untracked || !this.unchangedSince(since, reads)) return false;
    if (identityCall !== undefined) this.identityBound.add(identityCall);
    this.remove(this.entries.get(key));
    const entry: Entry = { key, value, reads, tables: [...reads.tables()] };
    this.entries.set(key, entry);
    for (const table of entry.tables) {
      let set = this.byTable.get(table);
      if (!set) this.byTable.set(table, (set = new Set()));
      set.add(entry);
    }
    if (this.entries.size > this.maxEntries) this.remove(this.entries.values().next().value);
    return true;
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
    this.recent.push(committed);
    if (this.recent.length > RECENT_COMMITS) this.recent.shift();
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
