import type { KeyRange, ReadTx, ScanRequest, ScannedDocument, StoredDocument } from './store.js';
import type { DocumentChange } from './write-set.js';

// What a query read, precisely enough to tell whether a later write could
// change its result (the query cache keeps a result until one does):
//  - the ids of the documents it looked at (by id, or met in a scan), and the
//    ids it asked for that did not exist;
//  - the index ranges it scanned. A scan that stopped at its limit read the
//    range only up to the last key it returned, so that is what counts.
// A write touches the read if it changes or deletes a document the query
// looked at, or puts a document (new or changed) into a range it scanned.
// A write that moves a document out of a range must have had it in the range
// before, where the query saw it: ids cover that case. A commit that creates
// a table drops every result (see QueryCache).

interface ReadRange {
  index: string;
  range: KeyRange;
}

export class ReadSet {
  private readonly ids = new Map<string, Set<string>>();
  private readonly ranges = new Map<string, ReadRange[]>();
  /** Asked who the caller is: the result belongs to that identity. */
  identity = false;
  /** Did something the set cannot describe (file storage): never cached. */
  untracked = false;

  /** The tables this read depends on. */
  tables(): IterableIterator<string> {
    return new Set([...this.ids.keys(), ...this.ranges.keys()]).values();
  }

  addId(table: string, id: string): void {
    let ids = this.ids.get(table);
    if (!ids) this.ids.set(table, (ids = new Set()));
    ids.add(id);
  }

  addScan(request: ScanRequest, rows: readonly ScannedDocument[]): void {
    for (const row of rows) this.addId(request.table, row.id);
    let range = request.range;
    const last = rows[rows.length - 1];
    // Stopped at the limit: what lies beyond the last key was not read.
    if (last && rows.length >= request.limit) {
      range = request.order === 'asc' ? { ...range, upper: last.key, upperInclusive: true } : { ...range, lower: last.key, lowerInclusive: true };
    }
    let ranges = this.ranges.get(request.table);
    if (!ranges) this.ranges.set(request.table, (ranges = []));
    ranges.push({ index: request.index, range });
  }

  touchedBy(change: DocumentChange): boolean {
    if (this.ids.get(change.table)?.has(change.id)) return true;
    // A deletion touches only documents the read saw (above).
    if (change.keys === null) return false;
    for (const { index, range } of this.ranges.get(change.table) ?? []) {
      const key = change.keys.get(index);
      // The writer did not know this index (it was just added): assume the worst.
      if (key === undefined || inRange(key, range)) return true;
    }
    return false;
  }
}

function inRange(key: Buffer, range: KeyRange): boolean {
  if (range.lower) {
    const order = Buffer.compare(key, range.lower);
    if (order < 0 || (order === 0 && !range.lowerInclusive)) return false;
  }
  if (range.upper) {
    const order = Buffer.compare(key, range.upper);
    if (order > 0 || (order === 0 && !range.upperInclusive)) return false;
  }
  return true;
}

/** A read transaction that records what it reads into a ReadSet. */
export class TrackedReadTx implements ReadTx {
  constructor(
    private readonly tx: ReadTx,
    readonly reads: ReadSet,
  ) {}

  // The catalog only grows, and a new table drops every cached result.
  tableName(number: number): Promise<string | null> {
    return this.tx.tableName(number);
  }

  async get(table: string, id: string): Promise<StoredDocument | null> {
    this.reads.addId(table, id);
    return this.tx.get(table, id);
  }

  async scan(request: ScanRequest): Promise<ScannedDocument[]> {
    const rows = await this.tx.scan(request);
    this.reads.addScan(request, rows);
    return rows;
  }
}

/** The ReadSet a transaction records into, if it is a tracked one. */
export function readSetOf(tx: ReadTx): ReadSet | null {
  return tx instanceof TrackedReadTx ? tx.reads : null;
}
