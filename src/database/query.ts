import type { Value } from '../values/value.js';
import type { ExpressionOrValue, FilterBuilder, GenericDocument, IndexRangeBuilder, PaginationOptions, PaginationResult, QueryInitializer } from './api-types.js';
import { compileFilter } from './filter-expression.js';
import { encodeKey, prefixUpperBound } from './keys.js';
import { CREATION_INDEX, type IndexSpec, type KeyRange, type ReadTx, type ScannedDocument } from './store.js';

// db.query(table)[.withIndex(...)][.order(...)][.filter(...)].collect() and
// friends. Every query is a range scan over one index key column, read in
// batches so `.first()` reads one row and `.take(10)` about ten, with
// `.filter()` applied to the documents as they stream by (as in Convex,
// filters do not use indexes). Cursors are index keys: a page continues
// strictly after the last key it returned, so pagination is stable when
// documents are inserted or deleted between pages.

const BATCH = 128;
const CREATION_SPEC: IndexSpec = { name: CREATION_INDEX, fields: ['_creationTime'] };
const FULL_RANGE: KeyRange = { lower: null, lowerInclusive: true, upper: null, upperInclusive: true };

export interface QuerySource {
  tx(): ReadTx;
  /** The index as the schema or the database declares it, or undefined. */
  index(table: string, name: string): IndexSpec | undefined;
  decode(table: string, stored: ScannedDocument): GenericDocument;
}

export class Query implements QueryInitializer {
  private index: IndexSpec = CREATION_SPEC;
  private range: KeyRange = FULL_RANGE;
  private direction: 'asc' | 'desc' = 'asc';
  private ordered = false;
  private indexed = false;
  private readonly filters: ((document: Record<string, Value>) => boolean)[] = [];

  constructor(
    private readonly source: QuerySource,
    private readonly table: string,
  ) {}

  withIndex(name: string, build?: (q: IndexRangeBuilder) => IndexRangeBuilder): this {
    if (this.indexed) throw new Error('A query may use one index: withIndex() was already called');
    this.indexed = true;
    const index = name === CREATION_INDEX ? CREATION_SPEC : this.source.index(this.table, name);
    if (!index) throw new Error(`Index "${this.table}.${name}" not found: declare it in functions/schema.ts with defineTable(...).index("${name}", [...])`);
    this.index = index;
    if (build) this.range = rangeOf(index, this.table, build);
    return this;
  }

  fullTableScan(): this {
    if (this.indexed) throw new Error('fullTableScan() cannot follow withIndex()');
    this.indexed = true;
    return this;
  }

  order(order: 'asc' | 'desc'): this {
    if (this.ordered) throw new Error('Queries may only specify order at most once');
    if (order !== 'asc' && order !== 'desc') throw new Error(`order() takes "asc" or "desc", got ${JSON.stringify(order)}`);
    this.ordered = true;
    this.direction = order;
    return this;
  }

  filter(predicate: (q: FilterBuilder) => ExpressionOrValue<boolean>): this {
    this.filters.push(compileFilter(predicate));
    return this;
  }

  async collect(): Promise<GenericDocument[]> {
    if (this.filters.length === 0) return this.read(Infinity);
    const out: GenericDocument[] = [];
    for await (const { document } of this.scan(this.range, Infinity)) out.push(document);
    return out;
  }

  async take(n: number): Promise<GenericDocument[]> {
    if (!Number.isInteger(n) || n < 0) throw new Error(`take() needs a non-negative integer, got ${n}`);
    if (this.filters.length === 0) return this.read(n);
    const out: GenericDocument[] = [];
    if (n === 0) return out;
    for await (const { document } of this.scan(this.range, n)) {
      out.push(document);
      if (out.length >= n) break;
    }
    return out;
  }

  async first(): Promise<GenericDocument | null> {
    return (await this.take(1))[0] ?? null;
  }

  async unique(): Promise<GenericDocument | null> {
    const found = await this.take(2);
    if (found.length > 1) {
      throw new Error(`unique() query returned more than one result from table ${this.table}: [${found.map((doc) => doc._id).join(', ')}, ...]`);
    }
    return found[0] ?? null;
  }

  async paginate(options: PaginationOptions): Promise<PaginationResult<GenericDocument>> {
    const { numItems, cursor } = options ?? ({} as PaginationOptions);
    if (!Number.isInteger(numItems) || numItems < 0) throw new Error(`paginate() needs numItems as a non-negative integer, got ${numItems}`);
    let range = this.range;
    if (cursor !== null && cursor !== undefined) range = this.after(range, decodeCursor(cursor));
    if (options.endCursor) range = this.until(range, decodeCursor(options.endCursor));
    const page: GenericDocument[] = [];
    let lastKey: Buffer | null = null;
    const scan = this.scan(range, numItems);
    let isDone = true;
    if (numItems > 0) {
      for await (const { document, key } of scan) {
        page.push(document);
        lastKey = key;
        if (page.length >= numItems) {
          isDone = scan.exhausted();
          break;
        }
      }
    } else {
      isDone = false;
    }
    const continueCursor = lastKey ? encodeCursor(lastKey) : (cursor ?? encodeCursor(Buffer.alloc(0)));
    return { page, isDone, continueCursor };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenericDocument> {
    for await (const { document } of this.scan(this.range, Infinity)) yield document;
  }

  /**
   * Up to `n` documents of a query without filters: batches read straight
   * into the result, without the async iterator that filters need (on the
   * hot path of `.first()` it cost more than the SQL).
   */
  private async read(n: number): Promise<GenericDocument[]> {
    const { source, table, direction } = this;
    const index = this.index.name;
    const out: GenericDocument[] = [];
    let range = this.range;
    while (out.length < n) {
      const limit = Math.min(n - out.length, BATCH);
      const rows = await source.tx().scan({ table, index, range, order: direction, limit });
      for (const row of rows) out.push(source.decode(table, row));
      if (rows.length < limit) break;
      range = this.after(range, rows[rows.length - 1]!.key);
    }
    return out;
  }

  /** The range continued strictly after `key` in this query's order. */
  private after(range: KeyRange, key: Buffer): KeyRange {
    if (key.length === 0) return range;
    return this.direction === 'asc' ? { ...range, lower: key, lowerInclusive: false } : { ...range, upper: key, upperInclusive: false };
  }

  private until(range: KeyRange, key: Buffer): KeyRange {
    return this.direction === 'asc' ? { ...range, upper: key, upperInclusive: true } : { ...range, lower: key, lowerInclusive: true };
  }

  /** Streams matching documents with their keys, reading rows in batches. */
  private scan(initial: KeyRange, wanted: number): AsyncIterable<{ document: GenericDocument; key: Buffer }> & { exhausted(): boolean } {
    const { source, table, filters, direction } = this;
    const indexName = this.index.name;
    let range = initial;
    let buffered: ScannedDocument[] = [];
    let position = 0;
    let ended = false;
    const batchSize = filters.length === 0 && Number.isFinite(wanted) ? Math.min(Math.max(wanted, 1), BATCH) : BATCH;
    const fill = async () => {
      buffered = await source.tx().scan({ table, index: indexName, range, order: direction, limit: batchSize });
      position = 0;
      if (buffered.length < batchSize) ended = true;
      const last = buffered[buffered.length - 1];
      if (last) range = direction === 'asc' ? { ...range, lower: last.key, lowerInclusive: false } : { ...range, upper: last.key, upperInclusive: false };
    };
    const iterator = {
      exhausted: () => position >= buffered.length && ended,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          if (position >= buffered.length) {
            if (ended) return;
            await fill();
            if (buffered.length === 0) return;
          }
          const row = buffered[position++]!;
          const document = source.decode(table, row);
          if (filters.every((matches) => matches(document))) yield { document, key: row.key };
        }
      },
    };
    return iterator;
  }
}

/** Turns `q => q.eq('a', 1).gt('b', 2)` into a key range over the index. */
function rangeOf(index: IndexSpec, table: string, build: (q: IndexRangeBuilder) => IndexRangeBuilder): KeyRange {
  const prefix: Value[] = [];
  let lower: { value: Value; inclusive: boolean; field: string } | null = null;
  let upper: { value: Value; inclusive: boolean; field: string } | null = null;
  const fieldAt = (position: number) => index.fields[position];
  const where = () => `in index "${table}.${index.name}" (${index.fields.join(', ')})`;
  const bound = (kind: 'lower' | 'upper', field: string, value: Value, inclusive: boolean) => {
    const expected = fieldAt(prefix.length);
    if (field !== expected) throw new Error(`Range on "${field}" ${where()}: expected a range on "${expected}" (fields must follow the index order)`);
    if (kind === 'lower') {
      if (lower) throw new Error(`Two lower bounds on "${field}" ${where()}`);
      lower = { value, inclusive, field };
    } else {
      if (upper) throw new Error(`Two upper bounds on "${field}" ${where()}`);
      upper = { value, inclusive, field };
    }
  };
  const q: IndexRangeBuilder = {
    eq(field, value) {
      if (lower || upper) throw new Error(`eq("${field}") after a range bound ${where()}`);
      const expected = fieldAt(prefix.length);
      if (field !== expected) throw new Error(`eq("${field}") ${where()}: expected "${expected}" next (fields must follow the index order)`);
      prefix.push(value);
      return q;
    },
    gt: (field, value) => (bound('lower', field, value, false), q),
    gte: (field, value) => (bound('lower', field, value, true), q),
    lt: (field, value) => (bound('upper', field, value, false), q),
    lte: (field, value) => (bound('upper', field, value, true), q),
  };
  build(q);
  const base = encodeKey(prefix);
  const range: KeyRange = { lower: prefix.length ? base : null, lowerInclusive: true, upper: prefix.length ? prefixUpperBound(base) : null, upperInclusive: false };
  const lowerBound = lower as { value: Value; inclusive: boolean } | null;
  const upperBound = upper as { value: Value; inclusive: boolean } | null;
  if (lowerBound) {
    const key = encodeKey([...prefix, lowerBound.value]);
    range.lower = lowerBound.inclusive ? key : prefixUpperBound(key);
    range.lowerInclusive = true;
  }
  if (upperBound) {
    const key = encodeKey([...prefix, upperBound.value]);
    range.upper = upperBound.inclusive ? prefixUpperBound(key) : key;
    range.upperInclusive = false;
  }
  return range;
}

function encodeCursor(key: Buffer): string {
  return key.toString('base64url');
}

function decodeCursor(cursor: string): Buffer {
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw new Error(`Invalid pagination cursor: ${JSON.stringify(cursor)}`);
  return Buffer.from(cursor, 'base64url');
}
