import type { PropertyValidators, Validator } from '../values/validators.js';
import { v } from '../values/validators.js';

// functions/schema.ts, as in Convex:
//
//   export default defineSchema({
//     messages: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']),
//   });
//
// Tables get real database indexes; documents are checked against their
// table's validator on every write (unless schemaValidation is false).

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const INDEX_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const RESERVED_INDEXES = new Set(['by_id', 'by_creation_time']);

export interface IndexDefinition {
  name: string;
  fields: string[];
}

export class TableDefinition {
  readonly indexes: IndexDefinition[] = [];

  constructor(readonly document: Validator<any, any> | null) {}

  /** Declares an index over `fields`; `_creationTime` is appended as a tiebreaker. */
  index(name: string, fields: string[]): this {
    if (!INDEX_NAME.test(name)) throw new Error(`Index name "${name}" must start with a letter and use letters, digits and _`);
    if (RESERVED_INDEXES.has(name)) throw new Error(`Index name "${name}" is reserved`);
    if (this.indexes.some((index) => index.name === name)) throw new Error(`Duplicate index name "${name}"`);
    if (!Array.isArray(fields) || fields.length === 0) throw new Error(`Index "${name}" needs at least one field`);
    for (const field of fields) {
      if (typeof field !== 'string' || field.length === 0) throw new Error(`Index "${name}" has an invalid field ${JSON.stringify(field)}`);
      if (field === '_creationTime' || field === '_id') throw new Error(`Index "${name}" must not list ${field}: it is added automatically`);
    }
    if (new Set(fields).size !== fields.length) throw new Error(`Index "${name}" lists a field twice`);
    this.indexes.push({ name, fields: [...fields] });
    return this;
  }

  searchIndex(name: string): this {
    throw new Error(`Search index "${name}": full-text search indexes are not supported by Portico`);
  }

  vectorIndex(name: string): this {
    throw new Error(`Vector index "${name}": vector indexes are not supported by Portico`);
  }
}

export interface SchemaOptions {
  /** Check documents against their table's validator on write (default true). */
  schemaValidation?: boolean;
  /** Refuse writes to tables the schema does not declare (default false). */
  strictTableNameTypes?: boolean;
}

export class SchemaDefinition {
  readonly schemaValidation: boolean;
  readonly strictTables: boolean;
  constructor(
    readonly tables: Readonly<Record<string, TableDefinition>>,
    options: SchemaOptions,
  ) {
    this.schemaValidation = options.schemaValidation ?? true;
    this.strictTables = options.strictTableNameTypes ?? false;
  }
}

/** A table: its document fields (or any validator for the whole document). */
export function defineTable(document: PropertyValidators | Validator<any, any>): TableDefinition {
  const validator = isValidator(document) ? document : v.object(document as PropertyValidators);
  return new TableDefinition(validator);
}

/** The project's tables; the default export of functions/schema.ts. */
export function defineSchema(tables: Record<string, TableDefinition>, options: SchemaOptions = {}): SchemaDefinition {
  for (const [name, table] of Object.entries(tables)) {
    if (!TABLE_NAME.test(name)) throw new Error(`Table name "${name}" must start with a letter and use letters, digits and _ (names starting with _ are system tables)`);
    if (!(table instanceof TableDefinition)) throw new Error(`Table "${name}" must be defined with defineTable(...)`);
  }
  return new SchemaDefinition(tables, options);
}

export function isSchemaDefinition(value: unknown): value is SchemaDefinition {
  return value instanceof SchemaDefinition;
}

function isValidator(value: unknown): value is Validator<any, any> {
  return typeof value === 'object' && value !== null && 'kind' in value && 'isOptional' in value && 'json' in value;
}
