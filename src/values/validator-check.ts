import { Ajv, type ValidateFunction } from 'ajv';
import type { JSONValue } from './value.js';
import { isValidator, v, type GenericValidator, type PropertyValidators } from './validator-builders.js';
import { explainErrors } from './validator-explain.js';
import { isEncodedObject, toJsonSchema, type JSONSchema } from './validator-schema.js';
import { show } from './validator-text.js';

// Compiling. A validator's JSON Schema is compiled twice, by two shared ajv
// instances: once to check, stopping at the first error, which is all a
// passing value ever pays for; and, only after a failure, once more with
// `allErrors` so that the explanation can pick Convex's first problem among
// all of them (validator-explain.ts). The `convexId` keyword reads
// `isIdOfTable` from the per-validator context passed to each call (ajv's
// `passContext`), and compiled schemas are dropped from ajv's cache so that
// reloads do not accumulate them.

export interface ValidatorOptions {
  /** Whether `id` is a document id of `table`; without it `v.id()` accepts any string. */
  isIdOfTable?: (table: string, id: string) => boolean;
}

export type CheckResult = { ok: true } | { ok: false; message: string };

/** The prefix Convex gives argument failures; a document check uses its own. */
export const ARGUMENT_VALIDATION_ERROR = 'ArgumentValidationError: ';

type CheckContext = { readonly isIdOfTable: ((table: string, id: string) => boolean) | undefined };

const OK: CheckResult = Object.freeze({ ok: true });
let checking: Ajv | undefined;
let explaining: Ajv | undefined;

function newAjv(allErrors: boolean): Ajv {
  const instance = new Ajv({ allErrors, strict: true, passContext: true });
  instance.addKeyword({
    keyword: 'convexId',
    type: 'string',
    schemaType: 'string',
    errors: false,
    validate(this: CheckContext | undefined, table: string, id: string) {
      return this?.isIdOfTable?.(table, id) ?? true;
    },
  });
  return instance;
}

function compileSchema(instance: Ajv, schema: JSONSchema): ValidateFunction {
  const validate = instance.compile(schema) as ValidateFunction;
  instance.removeSchema(schema);
  return validate;
}

// The all-errors form of each validator, compiled on its first failure.
const explainers = new WeakMap<GenericValidator, ValidateFunction>();

function explain(validator: GenericValidator, encoded: JSONValue, cx: CheckContext, schema?: JSONSchema): string | null {
  let validate = explainers.get(validator);
  if (validate === undefined) {
    validate = compileSchema((explaining ??= newAjv(true)), schema ?? toJsonSchema(validator));
    explainers.set(validator, validate);
  }
  if (validate.call(cx, encoded)) return null;
  return explainErrors(validator, encoded, validate.errors ?? []);
}

/**
 * Why an encoded value fails a validator, in Convex's words and without a
 * prefix, or null when it matches. Slower than a compiled check; compiled
 * checkers call it only on failure.
 *
 * @example explainMismatch(v.string(), 12) // 'Value does not match validator.\n\nValue: 12.0\nValidator: v.string()'
 */
export function explainMismatch(validator: GenericValidator, encoded: JSONValue, options: ValidatorOptions = {}): string | null {
  return explain(validator, encoded, { isIdOfTable: options.isIdOfTable });
}

/**
 * Compiles a validator once into a checker of encoded (`convex_encoded_json`)
 * values. A failure's message is Convex's, without any prefix, e.g.
 * `Value does not match validator.\nPath: .author\nValue: 12.0\nValidator: v.string()`.
 *
 * @example
 * const check = compileValidator(v.object(schemaFields), { isIdOfTable });
 * const r = check(encodedDoc);
 * if (!r.ok) throw new Error(`Failed to insert or update a document in table "t" because it does not match the schema: ${r.message}`);
 */
export function compileValidator(validator: GenericValidator, options: ValidatorOptions = {}): (encoded: JSONValue) => CheckResult {
  const schema = toJsonSchema(validator);
  const validate = compileSchema((checking ??= newAjv(false)), schema);
  const cx: CheckContext = { isIdOfTable: options.isIdOfTable };
  return (encoded) => {
    if (validate.call(cx, encoded)) return OK;
    // Both forms compile one schema, so the second says no as well; its errors name the problem.
    const message = explain(validator, encoded, cx, schema) ?? explainErrors(validator, encoded, []);
    return { ok: false, message };
  };
}

/**
 * Compiles a function's `args` (a field map or any validator) into a checker
 * of its encoded argument object. Failures read as Convex's, prefixed with
 * `ArgumentValidationError: ` unless `errorPrefix` says otherwise; a
 * non-object gets Convex's "Expected to receive an object" message.
 *
 * @example
 * const check = compileObjectValidator({ author: v.string() });
 * check({ author: 12 }).ok // false
 */
export function compileObjectValidator(
  fields: PropertyValidators | GenericValidator,
  options: ValidatorOptions & { errorPrefix?: string } = {},
): (encoded: JSONValue) => CheckResult {
  const validator = isValidator(fields) ? fields : v.object(fields);
  const check = compileValidator(validator, options);
  const prefix = options.errorPrefix ?? ARGUMENT_VALIDATION_ERROR;
  const alwaysObject = validator.kind === 'object';
  return (encoded) => {
    const result = check(encoded);
    if (result.ok && (alwaysObject || isEncodedObject(encoded))) return result;
    if (!isEncodedObject(encoded)) {
      return { ok: false, message: `${prefix}Expected to receive an object as the function's argument. Instead received: ${show(encoded)}` };
    }
    return result.ok ? result : { ok: false, message: `${prefix}${result.message}` };
  };
}
