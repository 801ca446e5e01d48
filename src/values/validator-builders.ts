import { convexToJson, validateFieldName, type Value } from './value.js';
import { describe } from './validator-text.js';
import { toJsonSchema, type JSONSchema } from './validator-schema.js';

// The `v` validator builder, shaped like the `convex` package's (same class
// fields, `kind`s and type parameters) so handler `args` infer the same way
// and validators from either package can be compiled here. A validator only
// holds its parts; printing (validator-text.ts), its JSON Schema
// (validator-schema.ts) and checking (validator-check.ts) read them.

type GenericId<TableName extends string> = string & { __tableName: TableName };
type Expand<T> = T extends Record<any, any> ? { [K in keyof T]: T[K] } : never;

export type OptionalProperty = 'required' | 'optional';

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
    return (this.#json ??= deepFreeze(toJsonSchema(this as unknown as Validator<unknown, OptionalProperty>)));
  }

  /** The validator as source text, e.g. `v.object({author: v.string()})`. */
  toString(): string {
    const text = describe(this as unknown as Validator<unknown, OptionalProperty>);
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

function isStringKey(key: GenericValidator): boolean {
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
