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

type IdCheck = (table: string, id: string) => boolean;

// Which table an id belongs to is known to the store the document goes
// into, not to the schema: validators are compiled once with a v.id() check
// that defers to the store of the check in progress (see checkDocument;
// ajv's checks are synchronous, so one binding at a time is enough).
interface IdBinding {
  current: IdCheck | null;
}

export class CompiledSchema {
  private constructor(
    readonly tables: ReadonlyMap<string, CompiledTable>,
    readonly strictTables: boolean,
    private readonly ids: IdBinding,
  ) {}

  static empty(): CompiledSchema {
    return new CompiledSchema(new Map(), false, { current: null });
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
    const ids: IdBinding = { current: null };
    const fallback = options.isIdOfTable;
    const isIdOfTable: IdCheck = (table, id) => (ids.current ?? fallback)?.(table, id) ?? true;
    const tables = new Map<string, CompiledTable>();
    for (const [name, table] of Object.entries(definition.tables)) {
      tables.set(name, {
        indexes: table.indexes.map((index) => ({ name: index.name, fields: [...index.fields] })),
        check: definition.schemaValidation && table.document ? compileValidator(table.document, { ...options, isIdOfTable }) : null,
      });
    }
    return new CompiledSchema(tables, definition.strictTables, ids);
  }

  /** Checks an encoded document of `table`; v.id() fields are checked with `isIdOfTable`. */
  checkDocument(table: string, encoded: JSONValue, isIdOfTable: IdCheck): CheckResult | null {
    const check = this.tables.get(table)?.check;
    if (!check) return null;
    this.ids.current = isIdOfTable;
    try {
      return check(encoded);
    } finally {
      this.ids.current = null;
    }
  }

  /** What the store must create, for applySchema. */
  get tableSpecs(): { name: string; indexes: IndexSpec[] }[] {
    return [...this.tables].map(([name, table]) => ({ name, indexes: table.indexes }));
  }

  index(table: string, name: string): IndexSpec | undefined {
    return this.tables.get(table)?.indexes.find((index) => index.name === name);
  }
}
