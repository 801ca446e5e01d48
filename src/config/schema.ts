// schemas/routes.schema.json, compiled once per process, and validation that
// turns ajv's `anyOf` noise into the errors of the one branch the user meant.
import { readFileSync } from 'node:fs';
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';

/** One directory below the package root both as src/config (tsx) and dist/config. */
export const SCHEMA_URL = new URL('../../schemas/routes.schema.json', import.meta.url);

export interface CompiledSchema {
  root: AnySchemaObject;
  validate: ValidateFunction;
  /** JSON pointer (inside the schema file) of every subschema object, by identity. */
  pointers: Map<object, string>;
  /** Validators for each branch of each `anyOf`, keyed by the anyOf array. */
  branches: Map<unknown, Branch[]>;
}

interface Branch {
  schema: AnySchemaObject;
  /** Compiled on first use: only a config with an error in this anyOf needs it. */
  validator(): ValidateFunction;
}

let compiled: CompiledSchema | undefined;

export function routesSchema(): CompiledSchema {
  return (compiled ??= compile());
}

function compile(): CompiledSchema {
  const root = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as AnySchemaObject;
  // verbose: errors carry the failing data and schema objects, which the
  // messages need (the value shown, the keys to suggest from).
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addSchema(root);
  const id = root.$id as string;
  const validate = ajv.getSchema(id);
  if (!validate) throw new Error(`routes schema ${id} failed to register`);

  const pointers = new Map<object, string>();
  const branches = new Map<unknown, Branch[]>();
  const walk = (node: unknown, pointer: string): void => {
    if (typeof node !== 'object' || node === null) return;
    if (!Array.isArray(node)) pointers.set(node, pointer);
    const anyOf = (node as AnySchemaObject).anyOf;
    if (!Array.isArray(node) && Array.isArray(anyOf)) {
      branches.set(
        anyOf,
        anyOf.map((schema: AnySchemaObject, i: number) => {
          let validate: ValidateFunction | undefined;
          return { schema, validator: () => (validate ??= ajv.compile({ $ref: `${id}#${pointer}/anyOf/${i}` })) };
        }),
      );
    }
    for (const [key, child] of Object.entries(node)) walk(child, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  };
  walk(root, '');
  return { root, validate, pointers, branches };
}

/** Follows a local `$ref` (`#/definitions/x`) to the schema it names. */
export function resolveRef(root: AnySchemaObject, schema: AnySchemaObject): AnySchemaObject {
  let current = schema;
  for (let hops = 0; typeof current.$ref === 'string' && current.$ref.startsWith('#/') && hops < 16; hops++) {
    let target: unknown = root;
    for (const part of current.$ref.slice(2).split('/')) {
      target = (target as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (typeof target !== 'object' || target === null) break;
    current = target as AnySchemaObject;
  }
  return current;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function typeAccepts(type: string, value: unknown): boolean {
  if (type === 'integer') return Number.isInteger(value);
  return jsonType(value) === type;
}

/**
 * Whether a branch is meant for values of this shape: `[GET, HEAD]` is meant
 * for the list branch of `method`, `20 megs` for the string branch of a size,
 * while `true` fits neither branch of `cors` (false, or a mapping).
 */
function branchFits(root: AnySchemaObject, branch: AnySchemaObject, value: unknown): boolean {
  const schema = resolveRef(root, branch);
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    return types.some((t) => typeAccepts(t, value));
  }
  // The branch failed, so the value is not its constant.
  if ('const' in schema) return false;
  if (Array.isArray(schema.enum)) return schema.enum.some((v: unknown) => jsonType(v) === jsonType(value));
  if (Array.isArray(schema.anyOf)) return schema.anyOf.some((b: AnySchemaObject) => branchFits(root, b, value));
  return true;
}

function within(instancePath: string, parent: string): boolean {
  return instancePath === parent || instancePath.startsWith(`${parent}/`);
}

function depth(error: ErrorObject): number {
  return error.instancePath.split('/').length;
}

/**
 * Replaces each failed `anyOf` and everything its branches reported by the
 * errors of the branch whose shape fits the value, or by the anyOf error alone
 * when no branch fits (the message then lists the accepted forms).
 */
function collapse(schema: CompiledSchema, errors: ErrorObject[]): ErrorObject[] {
  let result = errors;
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf').sort((a, b) => depth(a) - depth(b));
  for (const anyOf of anyOfs) {
    if (!result.includes(anyOf)) continue;
    result = result.filter((e) => !within(e.instancePath, anyOf.instancePath));
    result.push(...explainAnyOf(schema, anyOf));
  }
  return result;
}

function explainAnyOf(schema: CompiledSchema, anyOf: ErrorObject): ErrorObject[] {
  const branches = schema.branches.get(anyOf.schema);
  if (!branches) return [anyOf];
  let best: ErrorObject[] | undefined;
  for (const branch of branches) {
    if (!branchFits(schema.root, branch.schema, anyOf.data)) continue;
    const validate = branch.validator();
    if (validate(anyOf.data)) return [];
    const errors = (validate.errors ?? []).map((e) => ({ ...e, instancePath: anyOf.instancePath + e.instancePath }));
    if (!best || errors.length < best.length) best = errors;
  }
  return best ? collapse(schema, best) : [anyOf];
}

/** Schema errors for a config document, anyOf noise collapsed. Empty when valid. */
export function validateConfig(data: unknown): { schema: CompiledSchema; errors: ErrorObject[] } {
  const schema = routesSchema();
  if (schema.validate(data)) return { schema, errors: [] };
  return { schema, errors: collapse(schema, [...(schema.validate.errors ?? [])]) };
}
