import type { ReadTx, ScanRequest, ScannedDocument, StoredDocument } from './store.js';
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

/** Keys as latin1 strings: one byte per character, so `<` is memcmp order, and no Buffer (costly for the GC) is kept. */
interface ReadRange {
  table: string;
  index: string;
  lower: string | null;
  lowerInclusive: boolean;
  upper: string | null;
  upperInclusive: boolean;
}

// Flat arrays rather than maps of sets: a cache keeps thousands of these
// for a long time, and fewer objects per entry is less work for the GC.
export class ReadSet {
  /** `table \0 id` of each document looked at. */
  private readonly ids: string[] = [];
  private idSet: Set<string> | null = null;
  private readonly ranges: ReadRange[] = [];
  /** Asked who the caller is: the result belongs to that identity. */
  identity = false;

  get documentsRead(): number {
    return this.ids.length;
  }

  /** The tables this read depends on. */
  tables(): string[] {
    const tables = new Set<string>();
    for (const id of this.ids) tables.add(id.slice(0, id.indexOf('\u0000')));
    for (const range of this.ranges) tables.add(range.table);
    return [...tables];
  }

  addId(table: string, id: string): void {
    this.ids.push(`${table}\u0000${id}`);
    this.idSet = null;
  }

  addScan(request: ScanRequest, rows: readonly ScannedDocument[]): void {
    for (const row of rows) this.ids.push(`${request.table}\u0000${row.id}`);
    this.idSet = null;
    const { table, index } = request;
    let { lower, lowerInclusive, upper, upperInclusive } = request.range;
    const last = rows[rows.length - 1];
    // Stopped at the limit: what lies beyond the last key was not read.
    if (last && rows.length >= request.limit) {
      if (request.order === 'asc') (upper = last.key), (upperInclusive = true);
      else (lower = last.key), (lowerInclusive = true);
    }
    this.ranges.push({ table, index, lower: lower && lower.toString('latin1'), lowerInclusive, upper: upper && upper.toString('latin1'), upperInclusive });
  }

  touchedBy(change: DocumentChange): boolean {
    if (this.sawDocument(`${change.table}\u0000${change.id}`)) return true;
    // A deletion touches only documents the read saw (above).
    if (change.keys === null) return false;
    for (const range of this.ranges) {
      if (range.table !== change.table) continue;
      const key = change.keys.get(range.index);
      // The writer did not know this index (it was just added): assume the worst.
      if (key === undefined || inRange(key, range)) return true;
    }
    return false;
  }

  private sawDocument(tableAndId: string): boolean {
    if (this.ids.length <= 16) return this.ids.includes(tableAndId);
    this.idSet ??= new Set(this.ids);
    return this.idSet.has(tableAndId);
  }
}

function inRange(key: string, range: ReadRange): boolean {
  if (range.lower !== null && (key < range.lower || (key === range.lower && !range.lowerInclusive))) return false;
  if (range.upper !== null && (key > range.upper || (key === range.upper && !range.upperInclusive))) return false;
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
