import { Ajv, type ValidateFunction } from 'ajv';
import {
  convexToJson,
  jsonToConvex,
  validateFieldName,
  valueToString,
  type JSONValue,
  type Value,
} from './value.js';

// The `v` validator builder, shaped like the `convex` package's (same class
// fields, `kind`s and type parameters) so handler `args` infer the same way
// and validators from either package can be compiled here. Checking happens
// on the encoded JSON form: each validator describes that form as a JSON
// Schema, ajv compiles it once, and only a failure pays for building
// Convex's message (by a second, readable walk over the same rules).

type GenericId<TableName extends string> = string & { __tableName: TableName };
type Expand<T> = T extends Record<any, any> ? { [K in keyof T]: T[K] } : never;

export type OptionalProperty = 'required' | 'optional';

/** A JSON Schema (draft-07) object, plus the `convexId` keyword registered by `compileValidator`. */
export type JSONSchema = { readonly [keyword: string]: unknown };

abstract class BaseValidator<Type, IsOptional extends OptionalProperty> {
  /** The TypeScript type of the values accepted; never set at run time. */
  declare readonly type: Type;
  readonly isOptional: IsOptional;
  readonly isConvexValidator = true as const;
  #json: JSONSchema | undefined;

  constructor(isOptional: IsOptional) {
    this.isOptional = isOptional;
  }

  /** JSON Schema of the `convex_encoded_json` form of accepted values. Frozen; shared. */
  get json(): JSONSchema {
    return (this.#json ??= deepFreeze(toJsonSchema(this as unknown as AnyValidator)));
  }

  /** The validator as source text, e.g. `v.object({author: v.string()})`. */
  toString(): string {
    const text = describe(this as unknown as AnyValidator);
    return this.isOptional === 'optional' ? `v.optional(${text})` : text;
  }

  /** The same validator, optional as an object field: `v.optional(x)` is `x.optional()`. */
  abstract optional(): unknown;

  /** Alias of `optional()`, as in the convex package. */
  asOptional(): ReturnType<this['optional']> {
    return this.optional() as ReturnType<this['optional']>;
  }
}

export class VId<Type, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'id' as const;
  readonly tableName: string;
  constructor(isOptional: IsOptional, tableName: string) {
    super(isOptional);
    if (typeof tableName !== 'string') throw new Error('v.id(tableName) requires a string');
    this.tableName = tableName;
  }
  optional() {
    return new VId<Type | undefined, 'optional'>('optional', this.tableName);
  }
}

export class VString<Type = string, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'string' as const;
  optional() {
    return new VString<Type | undefined, 'optional'>('optional');
  }
}

export class VFloat64<Type = number, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'float64' as const;
  optional() {
    return new VFloat64<Type | undefined, 'optional'>('optional');
  }
}

export class VInt64<Type = bigint, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'int64' as const;
  optional() {
    return new VInt64<Type | undefined, 'optional'>('optional');
  }
}

export class VBoolean<Type = boolean, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'boolean' as const;
  optional() {
    return new VBoolean<Type | undefined, 'optional'>('optional');
  }
}

export class VNull<Type = null, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'null' as const;
  optional() {
    return new VNull<Type | undefined, 'optional'>('optional');
  }
}

export class VBytes<Type = ArrayBuffer, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'bytes' as const;
  optional() {
    return new VBytes<Type | undefined, 'optional'>('optional');
  }
}

export class VAny<Type = any, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'any' as const;
  optional() {
    return new VAny<Type | undefined, 'optional'>('optional');
  }
}

export class VLiteral<Type, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'literal' as const;
  readonly value: Type;
  constructor(isOptional: IsOptional, value: Type) {
    super(isOptional);
    if (!['string', 'boolean', 'number', 'bigint'].includes(typeof value)) {
      throw new Error('v.literal(value) must be a string, number, or boolean');
    }
    convexToJson(value as Value); // an out-of-range bigint fails here, not at the first call
    this.value = value;
  }
  optional() {
    return new VLiteral<Type | undefined, 'optional'>('optional', this.value);
  }
}

export class VArray<Type, Element extends Validator<any, 'required'>, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<
  Type,
  IsOptional
> {
  readonly kind = 'array' as const;
  readonly element: Element;
  constructor(isOptional: IsOptional, element: Element) {
    super(isOptional);
    requireMember(element, 'v.array()', undefined, 'The element of v.array() must be a validator');
    this.element = element;
  }
  optional() {
    return new VArray<Type | undefined, Element, 'optional'>('optional', this.element);
  }
}

export class VObject<Type, Fields extends PropertyValidators, IsOptional extends OptionalProperty = 'required'> extends BaseValidator<
  Type,
  IsOptional
> {
  readonly kind = 'object' as const;
  readonly fields: Fields;
  constructor(isOptional: IsOptional, fields: Fields) {
    super(isOptional);
    for (const [name, field] of Object.entries(fields)) {
      if (field === undefined) undefinedValidator('v.object()', name);
      if (!isValidator(field)) throw new Error('v.object() entries must be validators');
      validateFieldName(name);
    }
    this.fields = fields;
  }
  optional() {
    return new VObject<Type | undefined, Fields, 'optional'>('optional', this.fields);
  }
}

export class VRecord<
  Type,
  Key extends Validator<string, 'required'>,
  Val extends Validator<any, 'required'>,
  IsOptional extends OptionalProperty = 'required',
> extends BaseValidator<Type, IsOptional> {
  readonly kind = 'record' as const;
  readonly key: Key;
  readonly value: Val;
  constructor(isOptional: IsOptional, key: Key, value: Val) {
    super(isOptional);
    if (key === undefined) undefinedValidator('v.record()', 'key');
    if (value === undefined) undefinedValidator('v.record()', 'value');
    if (!isValidator(key) || !isValidator(value)) throw new Error('Key and value of v.record() must be validators');
    if ((key.isOptional as OptionalProperty) === 'optional') throw new Error('Record validator cannot have optional keys');
    if ((value.isOptional as OptionalProperty) === 'optional') throw new Error('Record validator cannot have optional values');
    if (!isStringKey(key)) {
      throw new Error(`Record keys must be strings: v.string(), v.id(), a string v.literal() or a union of them, not ${describe(key)}`);
    }
    this.key = key;
    this.value = value;
  }
  optional() {
    return new VRecord<Type | undefined, Key, Val, 'optional'>('optional', this.key, this.value);
  }
}

export class VUnion<Type, Members extends Validator<any, 'required'>[], IsOptional extends OptionalProperty = 'required'> extends BaseValidator<
  Type,
  IsOptional
> {
  readonly kind = 'union' as const;
  readonly members: Members;
  constructor(isOptional: IsOptional, members: Members) {
    super(isOptional);
    members.forEach((member, i) =>
      requireMember(member, 'v.union()', `member at index ${i}`, 'All members of v.union() must be validators'),
    );
    this.members = members;
  }
  optional() {
    return new VUnion<Type | undefined, Members, 'optional'>('optional', this.members);
  }
}

/** Any validator accepting values of type `Type`. */
export type Validator<Type, IsOptional extends OptionalProperty = 'required'> =
  | VId<Type, IsOptional>
  | VString<Type, IsOptional>
  | VFloat64<Type, IsOptional>
  | VInt64<Type, IsOptional>
  | VBoolean<Type, IsOptional>
  | VNull<Type, IsOptional>
  | VBytes<Type, IsOptional>
  | VAny<Type, IsOptional>
  | VLiteral<Type, IsOptional>
  | VArray<Type, any, IsOptional>
  | VObject<Type, any, IsOptional>
  | VRecord<Type, any, any, IsOptional>
  | VUnion<Type, any, IsOptional>;

export type GenericValidator = Validator<any, any>;
export type PropertyValidators = Record<string, Validator<any, any>>;
export type VOptional<T extends GenericValidator> = ReturnType<T['optional']>;

/** The TypeScript type a validator accepts. */
export type Infer<T extends GenericValidator> = T['type'];

type OptionalKeys<F extends PropertyValidators> = {
  [K in keyof F]: F[K]['isOptional'] extends 'optional' ? K : never;
}[keyof F];
type RequiredKeys<F extends PropertyValidators> = Exclude<keyof F, OptionalKeys<F>>;

/** The object type of a field map: `{a: v.string(), b: v.optional(v.number())}` is `{a: string; b?: number}`. */
export type ObjectType<Fields extends PropertyValidators> = Expand<
  { [K in OptionalKeys<Fields>]?: Exclude<Infer<Fields[K]>, undefined> } & { [K in RequiredKeys<Fields>]: Infer<Fields[K]> }
>;

/**
 * The validator builder.
 *
 * @example
 * const args = { author: v.string(), tags: v.optional(v.array(v.string())) };
 */
export const v = {
  /** A document id of the given table (a string). */
  id: <TableName extends string>(tableName: TableName) => new VId<GenericId<TableName>>('required', tableName),
  null: () => new VNull('required'),
  /** A float64, including NaN, ±Infinity and -0. */
  number: () => new VFloat64('required'),
  float64: () => new VFloat64('required'),
  /** @deprecated Use `v.int64()`. */
  bigint: () => new VInt64('required'),
  int64: () => new VInt64('required'),
  boolean: () => new VBoolean('required'),
  string: () => new VString('required'),
  bytes: () => new VBytes('required'),
  any: () => new VAny('required'),
  literal: <T extends string | number | bigint | boolean>(literal: T) => new VLiteral<T>('required', literal),
  array: <T extends Validator<any, 'required'>>(element: T) => new VArray<T['type'][], T>('required', element),
  object: <T extends PropertyValidators>(fields: T) => new VObject<ObjectType<T>, T>('required', fields),
  record: <K extends Validator<string, 'required'>, V extends Validator<any, 'required'>>(keys: K, values: V) =>
    new VRecord<Record<Infer<K>, V['type']>, K, V>('required', keys, values),
  union: <T extends Validator<any, 'required'>[]>(...members: T) => new VUnion<T[number]['type'], T>('required', members),
  /** Marks an object field as optional: it may be absent. */
  optional: <T extends GenericValidator>(inner: T): VOptional<T> => inner.optional() as VOptional<T>,
};

/** True for a validator from this module or from the `convex` package. */
export function isValidator(value: unknown): value is GenericValidator {
  return (value as { isConvexValidator?: unknown } | null)?.isConvexValidator === true;
}

function undefinedValidator(context: string, field?: string): never {
  const where = field !== undefined ? ` for field "${field}"` : '';
  throw new Error(
    `A validator is undefined${where} in ${context}. This is often caused by circular imports. ` +
      'See https://docs.convex.dev/error#undefined-validator for details.',
  );
}

function requireMember(member: unknown, context: string, field: string | undefined, notValidator: string): void {
  if (member === undefined) undefinedValidator(context, field);
  if (!isValidator(member)) throw new Error(notValidator);
  if (member.isOptional === 'optional') throw new Error(`${context} cannot contain v.optional(...): ${String(member)}`);
}

function isStringKey(key: AnyValidator): boolean {
  if (key.kind === 'union') return key.members.every(isStringKey);
  return key.kind === 'string' || key.kind === 'id' || (key.kind === 'literal' && typeof key.value === 'string');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

// ---------------------------------------------------------------------------
// Describing a validator: source text and JSON Schema. Both read only the
// fields the `convex` package's validators share, so either kind works.

type AnyValidator = Validator<any, any>;

/** serde_json's float text (ryu): how the backend prints `v.literal(1)` as `v.literal(1.0)`. */
function formatFloatLikeSerde(n: number): string {
  if (!Number.isFinite(n)) return '<number>';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exp = '0'] = n.toExponential().split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const point = Number(exp) + 1; // the decimal point sits after this many digits
  if (point > 16 || point <= -5) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${point - 1}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function literalText(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return formatFloatLikeSerde(value);
  if (typeof value === 'bigint') return '<bigint>';
  return String(value);
}

function describe(val: AnyValidator): string {
  switch (val.kind) {
    case 'id':
      return `v.id(${JSON.stringify(val.tableName)})`;
    case 'literal':
      return `v.literal(${literalText(val.value)})`;
    case 'array':
      return `v.array(${describe(val.element)})`;
    case 'record':
      return `v.record(${describe(val.key)}, ${describe(val.value)})`;
    case 'union':
      return `v.union(${(val.members as AnyValidator[]).map(describe).join(', ')})`;
    case 'object': {
      const fields = Object.entries(val.fields as PropertyValidators).sort(([a], [b]) => (a < b ? -1 : 1));
      const parts = fields.map(([k, f]) => `${k}: ${f.isOptional === 'optional' ? `v.optional(${describe(f)})` : describe(f)}`);
      return `v.object({${parts.join(', ')}})`;
    }
    default:
      return `v.${val.kind}()`;
  }
}

// Base64 of exactly 8 bytes: 11 characters and one `=` (standard or URL-safe).
const INT64_PATTERN = '^[A-Za-z0-9+/_-]{11}=$';
const BYTES_PATTERN = '^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}==|[A-Za-z0-9+/_-]{3}=)?$';
// Base64 of a little-endian float64 that JSON cannot carry, so that the schema
// alone proves a `$float` decodes. NaN and ±Infinity have all exponent bits
// set: byte 6's high nibble and byte 7's low seven bits, which land in
// characters 9 to 11. -0 is seven zero bytes then 0x80.
const SPECIAL_FLOAT_PATTERN = '^(?:[A-Za-z0-9+/_-]{8}[89+/_-][HPXfnv3/_][89+/_-]|A{9}I[A-D])=$';
// What jsonToConvex accepts as a field name (see validateFieldName).
const FIELD_NAME_PATTERN = '^(?!\\$)[\\x20-\\x7E]{0,1024}$';

const taggedString = (key: string, pattern: string): JSONSchema => ({
  type: 'object',
  properties: { [key]: { type: 'string', pattern } },
  required: [key],
  additionalProperties: false,
});

function toJsonSchema(val: AnyValidator): JSONSchema {
  switch (val.kind) {
    case 'any':
      // Any well-formed encoding; jsonToConvex reports malformed ones.
      return {};
    case 'null':
    case 'boolean':
    case 'string':
      return { type: val.kind };
    case 'id':
      return { type: 'string', convexId: val.tableName };
    case 'float64':
      return { anyOf: [{ type: 'number' }, taggedString('$float', SPECIAL_FLOAT_PATTERN)] };
    case 'int64':
      return taggedString('$integer', INT64_PATTERN);
    case 'bytes':
      return taggedString('$bytes', BYTES_PATTERN);
    case 'literal':
      return { const: convexToJson(val.value as Value) };
    case 'array':
      return { type: 'array', items: toJsonSchema(val.element) };
    case 'record':
      return {
        type: 'object',
        propertyNames: { allOf: [{ type: 'string', pattern: FIELD_NAME_PATTERN }, toJsonSchema(val.key)] },
        additionalProperties: toJsonSchema(val.value),
      };
    case 'object': {
      const fields = Object.entries(val.fields as PropertyValidators);
      const required = fields.filter(([, f]) => f.isOptional !== 'optional').map(([k]) => k);
      return {
        type: 'object',
        properties: Object.fromEntries(fields.map(([k, f]) => [k, toJsonSchema(f)])),
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: false,
      };
    }
    case 'union': {
      const members = val.members as AnyValidator[];
      if (members.length === 1) return toJsonSchema(members[0]!);
      return members.length === 0 ? { not: {} } : { anyOf: members.map(toJsonSchema) };
    }
    default:
      throw new Error(`Unsupported validator kind: ${(val as { kind?: unknown }).kind}`);
  }
}

// ---------------------------------------------------------------------------
// Explaining a failure in Convex's words (the backend's `ValidationError`
// display): the first mismatch in the backend's order, fields by sorted name,
// missing fields before extra ones, a union naming itself rather than its
// members. Runs only after ajv has said no, so it favours clarity over speed.

type CheckContext = { readonly isIdOfTable: ((table: string, id: string) => boolean) | undefined };

const MISSING_HINT = 'Consider wrapping the field validator in `v.optional(...)` if this is expected.';

function show(encoded: JSONValue): string {
  try {
    return valueToString(jsonToConvex(encoded));
  } catch {
    return JSON.stringify(encoded);
  }
}

const pathLine = (path: string | undefined) => (path === undefined ? '' : `Path: ${path}`);

function noMatch(val: AnyValidator, encoded: JSONValue, path: string | undefined): string {
  return `Value does not match validator.\n${pathLine(path)}\nValue: ${show(encoded)}\nValidator: ${describe(val)}`;
}

function isTagged(encoded: JSONValue, key: string, pattern: RegExp): boolean {
  if (typeof encoded !== 'object' || encoded === null || Array.isArray(encoded)) return false;
  const keys = Object.keys(encoded);
  const text = encoded[key];
  return keys.length === 1 && typeof text === 'string' && pattern.test(text);
}

const INT64_RE = new RegExp(INT64_PATTERN, 'u');
const BYTES_RE = new RegExp(BYTES_PATTERN, 'u');
const SPECIAL_FLOAT_RE = new RegExp(SPECIAL_FLOAT_PATTERN, 'u');
const FIELD_NAME_RE = new RegExp(FIELD_NAME_PATTERN, 'u');

/** An encoded Convex object: a JSON object whose keys are all valid field names (so not `{$integer: ...}` and the like). */
export function isEncodedObject(encoded: JSONValue): encoded is { [key: string]: JSONValue } {
  if (typeof encoded !== 'object' || encoded === null || Array.isArray(encoded)) return false;
  return Object.keys(encoded).every((key) => FIELD_NAME_RE.test(key));
}

function jsonEqual(a: JSONValue, b: JSONValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const ra = a as Record<string, JSONValue>;
  const rb = b as Record<string, JSONValue>;
  return ka.length === kb.length && ka.every((k) => k in rb && jsonEqual(ra[k]!, rb[k]!));
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function explainAt(val: AnyValidator, encoded: JSONValue, path: string | undefined, cx: CheckContext): string | null {
  const fail = () => noMatch(val, encoded, path);
  const at = (suffix: string) => `${path ?? ''}${suffix}`;
  switch (val.kind) {
    case 'any':
      return null;
    case 'null':
      return encoded === null ? null : fail();
    case 'boolean':
    case 'string':
      return typeof encoded === val.kind ? null : fail();
    case 'id':
      return typeof encoded === 'string' && (cx.isIdOfTable?.(val.tableName, encoded) ?? true) ? null : fail();
    case 'float64':
      return typeof encoded === 'number' || isTagged(encoded, '$float', SPECIAL_FLOAT_RE) ? null : fail();
    case 'int64':
      return isTagged(encoded, '$integer', INT64_RE) ? null : fail();
    case 'bytes':
      return isTagged(encoded, '$bytes', BYTES_RE) ? null : fail();
    case 'literal':
      if (jsonEqual(encoded, convexToJson(val.value as Value))) return null;
      return `\`${show(encoded)}\` does not match literal validator \`v.literal(${literalText(val.value)})\`.${pathLine(path)}`;
    case 'array': {
      if (!Array.isArray(encoded)) return fail();
      for (let i = 0; i < encoded.length; i++) {
        const issue = explainAt(val.element, encoded[i]!, at(`[${i}]`), cx);
        if (issue !== null) return issue;
      }
      return null;
    }
    case 'record': {
      if (!isEncodedObject(encoded)) return fail();
      for (const key of Object.keys(encoded).sort(byName)) {
        const issue = explainAt(val.key, key, at('.keys()'), cx) ?? explainAt(val.value, encoded[key]!, at('.values()'), cx);
        if (issue !== null) return issue;
      }
      return null;
    }
    case 'object': {
      if (!isEncodedObject(encoded)) return fail();
      const fields = val.fields as PropertyValidators;
      const tail = () => `\n${pathLine(path)}\nObject: ${show(encoded)}\nValidator: ${describe(val)}`;
      for (const name of Object.keys(fields).sort(byName)) {
        const field = fields[name]!;
        if (Object.hasOwn(encoded, name)) {
          const issue = explainAt(field, encoded[name]!, at(`.${name}`), cx);
          if (issue !== null) return issue;
        } else if (field.isOptional !== 'optional') {
          return `Object is missing the required field \`${name}\`. ${MISSING_HINT}${tail()}`;
        }
      }
      for (const name of Object.keys(encoded).sort(byName)) {
        if (!Object.hasOwn(fields, name)) return `Object contains extra field \`${name}\` that is not in the validator.${tail()}`;
      }
      return null;
    }
    case 'union': {
      const members = val.members as AnyValidator[];
      if (members.length === 1) return explainAt(members[0]!, encoded, path, cx);
      return members.some((m) => explainAt(m, encoded, path, cx) === null) ? null : fail();
    }
    default:
      throw new Error(`Unsupported validator kind: ${(val as { kind?: unknown }).kind}`);
  }
}

/**
 * Why an encoded value fails a validator, in Convex's words and without a
 * prefix, or null when it matches. Slow; compiled checkers call it only on
 * failure.
 *
 * @example explainMismatch(v.string(), 12) // 'Value does not match validator.\n\nValue: 12.0\nValidator: v.string()'
 */
export function explainMismatch(validator: GenericValidator, encoded: JSONValue, options: ValidatorOptions = {}): string | null {
  return explainAt(validator, encoded, undefined, { isIdOfTable: options.isIdOfTable });
}

// ---------------------------------------------------------------------------
// Compiling. One ajv instance serves every validator: the `convexId` keyword
// reads `isIdOfTable` from the per-validator context passed to each call
// (ajv's `passContext`), and compiled schemas are dropped from ajv's cache so
// that reloads do not accumulate them.

export interface ValidatorOptions {
  /** Whether `id` is a document id of `table`; without it `v.id()` accepts any string. */
  isIdOfTable?: (table: string, id: string) => boolean;
}

export type CheckResult = { ok: true } | { ok: false; message: string };

/** The prefix Convex gives argument failures; a document check uses its own. */
export const ARGUMENT_VALIDATION_ERROR = 'ArgumentValidationError: ';

const OK: CheckResult = Object.freeze({ ok: true });
let sharedAjv: Ajv | undefined;

function ajv(): Ajv {
  if (sharedAjv) return sharedAjv;
  const instance = new Ajv({ allErrors: false, strict: true, passContext: true });
  instance.addKeyword({
    keyword: 'convexId',
    type: 'string',
    schemaType: 'string',
    errors: false,
    validate(this: CheckContext | undefined, table: string, id: string) {
      return this?.isIdOfTable?.(table, id) ?? true;
    },
  });
  return (sharedAjv = instance);
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
  const instance = ajv();
  const validate = instance.compile(schema) as ValidateFunction;
  instance.removeSchema(schema);
  const cx: CheckContext = { isIdOfTable: options.isIdOfTable };
  return (encoded) => {
    if (validate.call(cx, encoded)) return OK;
    const message = explainAt(validator, encoded, undefined, cx) ?? noMatch(validator, encoded, undefined);
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
