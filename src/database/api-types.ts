import type { Value } from '../values/value.js';

// The Convex-style document API that queries and mutations see as `ctx.db`.
// Types only; the implementation is in document-api.ts.

/** A document id: a string that remembers its table in the type system. */
export type GenericId<TableName extends string> = string & { __tableName: TableName };

export interface SystemFields {
  _id: GenericId<string>;
  /** Milliseconds since the epoch, when the document was inserted. */
  _creationTime: number;
}

export type GenericDocument = Record<string, Value> & SystemFields;

/** Fields that may be written: anything but the system fields. */
export type WithoutSystemFields = Record<string, Value | undefined>;

export interface DatabaseReader {
  /** The document with this id, or null. `get(table, id)` also checks the table. */
  get(id: GenericId<string> | string): Promise<GenericDocument | null>;
  get(table: string, id: GenericId<string> | string): Promise<GenericDocument | null>;
  /** Starts a query over a table; see QueryInitializer. */
  query(table: string): QueryInitializer;
  /** The id as an id of `table`, or null when it is not one. */
  normalizeId(table: string, id: string): GenericId<string> | null;
  /** Read access to system tables such as `_storage`. */
  system: {
    get(table: string, id: string): Promise<GenericDocument | null>;
    get(id: string): Promise<GenericDocument | null>;
    query(table: string): QueryInitializer;
  };
}

export interface DatabaseWriter extends DatabaseReader {
  /** Inserts a document and returns its new id. */
  insert(table: string, document: WithoutSystemFields): Promise<GenericId<string>>;
  /** Shallow-merges fields into a document; a field set to undefined is removed. */
  patch(id: string, fields: WithoutSystemFields): Promise<void>;
  patch(table: string, id: string, fields: WithoutSystemFields): Promise<void>;
  /** Replaces a document's fields (keeping _id and _creationTime). */
  replace(id: string, document: WithoutSystemFields): Promise<void>;
  replace(table: string, id: string, document: WithoutSystemFields): Promise<void>;
  delete(id: string): Promise<void>;
  delete(table: string, id: string): Promise<void>;
}

export interface IndexRangeBuilder {
  eq(field: string, value: Value): IndexRangeBuilder;
  gt(field: string, value: Value): IndexRangeBuilder;
  gte(field: string, value: Value): IndexRangeBuilder;
  lt(field: string, value: Value): IndexRangeBuilder;
  lte(field: string, value: Value): IndexRangeBuilder;
}

/** An expression in `.filter(q => ...)`. */
export interface Expression<T = Value> {
  readonly __expression: T;
}
export type ExpressionOrValue<T = Value> = Expression<T> | T;

export interface FilterBuilder {
  field(path: string): Expression;
  eq(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  neq(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  lt(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  lte(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  gt(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  gte(a: ExpressionOrValue, b: ExpressionOrValue): Expression<boolean>;
  and(...exprs: ExpressionOrValue<boolean>[]): Expression<boolean>;
  or(...exprs: ExpressionOrValue<boolean>[]): Expression<boolean>;
  not(expr: ExpressionOrValue<boolean>): Expression<boolean>;
  add(a: ExpressionOrValue, b: ExpressionOrValue): Expression;
  sub(a: ExpressionOrValue, b: ExpressionOrValue): Expression;
  mul(a: ExpressionOrValue, b: ExpressionOrValue): Expression;
  div(a: ExpressionOrValue, b: ExpressionOrValue): Expression;
  mod(a: ExpressionOrValue, b: ExpressionOrValue): Expression;
  neg(a: ExpressionOrValue): Expression;
}

export interface PaginationOptions {
  numItems: number;
  cursor: string | null;
  endCursor?: string | null;
}

export interface PaginationResult<T> {
  page: T[];
  isDone: boolean;
  continueCursor: string;
}

export interface Query extends AsyncIterable<GenericDocument> {
  filter(predicate: (q: FilterBuilder) => ExpressionOrValue<boolean>): Query;
  order(order: 'asc' | 'desc'): Query;
  collect(): Promise<GenericDocument[]>;
  take(n: number): Promise<GenericDocument[]>;
  first(): Promise<GenericDocument | null>;
  /** The only matching document, or null; throws when there are several. */
  unique(): Promise<GenericDocument | null>;
  paginate(options: PaginationOptions): Promise<PaginationResult<GenericDocument>>;
}

export interface QueryInitializer extends Query {
  /** Reads through an index declared in functions/schema.ts. */
  withIndex(name: string, range?: (q: IndexRangeBuilder) => IndexRangeBuilder): Query;
  /** Reads the whole table in creation order (the default). */
  fullTableScan(): Query;
}
