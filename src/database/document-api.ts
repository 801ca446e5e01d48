import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../values/value.js';
import type { DatabaseWriter, GenericDocument, GenericId, QueryInitializer, WithoutSystemFields } from './api-types.js';
import type { CompiledSchema } from './compiled-schema.js';
import { newId, tableNumberOf } from './ids.js';
import { Query } from './query.js';
import type { IndexSpec, ReadTx, ScannedDocument, Store, StoredDocument, WriteTx } from './store.js';

// `ctx.db` for one query or mutation, over one store transaction. Queries
// get the reader half only: the writer methods refuse, so a query cannot
// write even if it reaches for them.

const MAX_DOCUMENT_BYTES = 1 << 20;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const READ_ONLY = 'This function is a query: queries cannot modify the database (use a mutation)';

export class DocumentApi implements DatabaseWriter {
  private readonly isIdOfTable: (table: string, id: string) => boolean;

  constructor(
    private readonly store: Store,
    private readonly transaction: ReadTx | WriteTx,
    private readonly schema: CompiledSchema,
    private readonly writable: boolean,
  ) {
    this.isIdOfTable = idCheckFor(store);
  }

  readonly system = {
    get: (tableOrId: string, maybeId?: string) => this.getIn(tableOrId, maybeId, true),
    query: (table: string): QueryInitializer => {
      if (!table.startsWith('_')) throw new Error(`db.system.query("${table}"): "${table}" is not a system table`);
      return new Query(this.querySource, table);
    },
  };

  get(tableOrId: string, maybeId?: string): Promise<GenericDocument | null> {
    return this.getIn(tableOrId, maybeId, false);
  }

  query(table: string): QueryInitializer {
    this.checkUserTable(table, 'query');
    return new Query(this.querySource, table);
  }

  normalizeId(table: string, id: string): GenericId<string> | null {
    return this.isIdOfTable(table, id) ? (id as GenericId<string>) : null;
  }

  async insert(table: string, document: WithoutSystemFields): Promise<GenericId<string>> {
    const tx = this.writer('insert');
    this.checkUserTable(table, 'insert');
    const fields = this.userFields(document, 'insert');
    const json = this.encode(table, fields);
    const id = newId(await tx.ensureTable(table));
    await tx.insert(table, { id, creationTime: nextCreationTime(), json, fields });
    return id as GenericId<string>;
  }

  async patch(a: string, b: string | WithoutSystemFields, c?: WithoutSystemFields): Promise<void> {
    const tx = this.writer('patch');
    const [table, id, changes] = typeof b === 'string' ? [a, b, c!] : [null, a, b];
    const current = await this.require(table, id, 'patch');
    const fields: Record<string, Value> = jsonToConvex(JSON.parse(current.stored.json) as JSONValue) as Record<string, Value>;
    checkFieldsObject(changes, 'patch');
    for (const [key, value] of Object.entries(changes)) {
      if (isSystemField(key, 'patch')) continue;
      // A field set to undefined is removed, as in Convex.
      if (value === undefined) delete fields[key];
      else fields[key] = value as Value;
    }
    const json = this.encode(current.table, fields);
    await tx.replace(current.table, { id: current.stored.id, creationTime: current.stored.creationTime, json, fields });
  }

  async replace(a: string, b: string | WithoutSystemFields, c?: WithoutSystemFields): Promise<void> {
    const tx = this.writer('replace');
    const [table, id, document] = typeof b === 'string' ? [a, b, c!] : [null, a, b];
    const current = await this.require(table, id, 'replace');
    const fields = this.userFields(document, 'replace');
    const json = this.encode(current.table, fields);
    await tx.replace(current.table, { id: current.stored.id, creationTime: current.stored.creationTime, json, fields });
  }

  async delete(a: string, b?: string): Promise<void> {
    const tx = this.writer('delete');
    const current = await this.require(b === undefined ? null : a, b ?? a, 'delete');
    await tx.delete(current.table, current.stored.id);
  }

  // ---------------------------------------------------------------------

  private readonly querySource = {
    tx: () => this.transaction,
    index: (table: string, name: string): IndexSpec | undefined =>
      this.schema.index(table, name) ?? this.store.indexesOf(table)?.find((index) => index.name === name),
    decode: (table: string, stored: ScannedDocument) => decodeDocument(stored),
  };

  private async getIn(tableOrId: string, maybeId: string | undefined, system: boolean): Promise<GenericDocument | null> {
    const [expectedTable, id] = maybeId === undefined ? [null, tableOrId] : [tableOrId, maybeId];
    const table = await this.tableOf(id);
    if (table === null) {
      if (typeof id !== 'string' || tableNumberOf(id) === null) throw new Error(`Invalid argument \`id\` for \`db.get\`: ${JSON.stringify(id)} is not a document id`);
      return null;
    }
    if (expectedTable !== null && table !== expectedTable) {
      throw new Error(`Invalid argument \`id\` for \`db.get\`: the id belongs to table "${table}", not "${expectedTable}"`);
    }
    if (table.startsWith('_') !== system) {
      if (system) throw new Error(`db.system.get: "${table}" is not a system table`);
      // System documents are read through db.system, as in Convex.
      return null;
    }
    const stored = await this.transaction.get(table, id);
    return stored ? decodeDocument(stored) : null;
  }

  private async tableOf(id: string): Promise<string | null> {
    const number = typeof id === 'string' ? tableNumberOf(id) : null;
    // Through the transaction: a lookup must not need a second connection
    // while this one is held (PostgreSQL pools of one or two wedged so).
    return number === null ? null : this.transaction.tableName(number);
  }

  private async require(expectedTable: string | null, id: string, operation: string): Promise<{ table: string; stored: StoredDocument }> {
    const table = await this.tableOf(id);
    if (table === null) throw new Error(`Invalid argument \`id\` for \`db.${operation}\`: ${JSON.stringify(id)} is not a document id`);
    if (expectedTable !== null && expectedTable !== table) {
      throw new Error(`Invalid argument \`id\` for \`db.${operation}\`: the id belongs to table "${table}", not "${expectedTable}"`);
    }
    if (table.startsWith('_')) throw new Error('System tables (prefixed with `_`) are read-only.');
    const stored = await this.transaction.get(table, id);
    if (!stored) throw new Error(`${operation[0]!.toUpperCase()}${operation.slice(1)} on nonexistent document ID ${id}`);
    return { table, stored };
  }

  private writer(operation: string): WriteTx {
    if (!this.writable) throw new Error(`${READ_ONLY}: db.${operation}() is not available`);
    return this.transaction as WriteTx;
  }

  private checkUserTable(table: string, operation: string): void {
    if (typeof table !== 'string' || table.length === 0) throw new Error(`db.${operation}() needs a table name, got ${JSON.stringify(table)}`);
    if (table.startsWith('_')) {
      if (operation === 'query') throw new Error(`db.query("${table}"): system tables are read through db.system.query("${table}")`);
      throw new Error('System tables (prefixed with `_`) are read-only.');
    }
    if (!TABLE_NAME.test(table)) throw new Error(`Invalid table name "${table}": use letters, digits and _, starting with a letter`);
    if (this.schema.strictTables && !this.schema.tables.has(table) && operation !== 'query') {
      throw new Error(`Table "${table}" is not declared in functions/schema.ts`);
    }
  }

  /** The user's fields of a whole document, without undefined ones. */
  private userFields(document: WithoutSystemFields, operation: string): Record<string, Value> {
    checkFieldsObject(document, operation);
    const fields: Record<string, Value> = {};
    for (const [key, value] of Object.entries(document)) {
      if (isSystemField(key, operation)) continue;
      if (value !== undefined) fields[key] = value as Value;
    }
    return fields;
  }

  /** Encodes and validates a document's fields; returns its stored JSON. */
  private encode(table: string, fields: Record<string, Value>): string {
    const encoded = convexToJson(fields);
    const result = this.schema.checkDocument(table, encoded, this.isIdOfTable);
    if (result) {
      if (!result.ok) throw new Error(`Failed to insert or update a document in table "${table}" because it does not match the schema: ${result.message}`);
    }
    const json = JSON.stringify(encoded);
    if (json.length > MAX_DOCUMENT_BYTES) throw new Error(`Document is too large (${json.length} bytes; the limit is 1 MiB)`);
    return json;
  }
}

function checkFieldsObject(document: unknown, operation: string): asserts document is WithoutSystemFields {
  if (typeof document !== 'object' || document === null || Array.isArray(document) || document instanceof ArrayBuffer) {
    throw new Error(`db.${operation}() needs an object of fields, got ${document === null ? 'null' : typeof document}`);
  }
}

/**
 * Whether `key` is a system field to skip. patch and replace tolerate the
 * _id and _creationTime of a document read earlier and passed back whole;
 * any other name starting with _ is refused.
 */
function isSystemField(key: string, operation: string): boolean {
  if (!key.startsWith('_')) return false;
  if (operation !== 'insert' && (key === '_id' || key === '_creationTime')) return true;
  throw new Error(`Field name ${key} starts with a '_', which is reserved.`);
}

export function decodeDocument(stored: StoredDocument): GenericDocument {
  const document = jsonToConvex(JSON.parse(stored.json) as JSONValue) as Record<string, Value>;
  document._id = stored.id;
  document._creationTime = stored.creationTime;
  return document as GenericDocument;
}

/**
 * `v.id(table)` for the documents and arguments of one store: whether `id`
 * is an id of `table` as far as the store knows without a lookup. A table
 * it has not seen yet (created by another process) cannot be ruled out.
 */
export function idCheckFor(store: Store): (table: string, id: string) => boolean {
  return (table, id) => {
    const number = tableNumberOf(id);
    if (number === null) return false;
    const known = store.cachedTableName(number);
    return known === undefined || known === table;
  };
}

/**
 * `v.id(table)` without a store at hand: whether `id` is well-formed. Where
 * a store is known (ctx.db writes, function arguments) its tables are
 * checked too, with idCheckFor.
 */
export function isIdOfTable(_table: string, id: string): boolean {
  return tableNumberOf(id) !== null;
}

let lastCreationTime = 0;
/** Milliseconds since the epoch with sub-millisecond precision, strictly increasing per process. */
function nextCreationTime(): number {
  const now = performance.timeOrigin + performance.now();
  lastCreationTime = now > lastCreationTime ? now : lastCreationTime + 0.001;
  return lastCreationTime;
}
