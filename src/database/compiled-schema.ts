import { compileValidator, type CheckResult, type ValidatorOptions } from '../values/validators.js';
import type { JSONValue } from '../values/value.js';
import { isSchemaDefinition, type SchemaDefinition } from './schema-definition.js';
import type { IndexSpec } from './store.js';

// functions/schema.ts, compiled once per load: a document checker per table
// (ajv, over the encoded form) and the index list the store must maintain.

export interface CompiledTable {
  indexes: IndexSpec[];
  check: ((encoded: JSONValue) => CheckResult) | null;
}

export class CompiledSchema {
  private constructor(
    readonly tables: ReadonlyMap<string, CompiledTable>,
    readonly strictTables: boolean,
  ) {}

  static empty(): CompiledSchema {
    return new CompiledSchema(new Map(), false);
  }

  /** @throws when functions/schema.ts exports something that is not a schema */
  static compile(definition: unknown, options: ValidatorOptions): CompiledSchema {
    if (definition === undefined) return CompiledSchema.empty();
    if (!isSchemaDefinition(definition)) {
      throw new Error('functions/schema.ts must `export default defineSchema({...})`');
    }
    return CompiledSchema.from(definition, options);
  }

  private static from(definition: SchemaDefinition, options: ValidatorOptions): CompiledSchema {
    const tables = new Map<string, CompiledTable>();
    for (const [name, table] of Object.entries(definition.tables)) {
      tables.set(name, {
        indexes: table.indexes.map((index) => ({ name: index.name, fields: [...index.fields] })),
        check: definition.schemaValidation && table.document ? compileValidator(table.document, options) : null,
      });
    }
    return new CompiledSchema(tables, definition.strictTables);
  }

  /** What the store must create, for applySchema. */
  get tableSpecs(): { name: string; indexes: IndexSpec[] }[] {
    return [...this.tables].map(([name, table]) => ({ name, indexes: table.indexes }));
  }

  index(table: string, name: string): IndexSpec | undefined {
    return this.tables.get(table)?.indexes.find((index) => index.name === name);
  }
}
