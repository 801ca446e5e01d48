import { convexToJson, type JSONValue, type Value } from './value.js';
import { unsupportedKind, type ValidatorNode } from './validator-node.js';

// A validator as a JSON Schema (draft-07) of the `convex_encoded_json` form
// of the values it accepts. This schema is the one statement of the rules:
// ajv compiles it to check values, and the explanation of a failure is read
// from ajv's errors against it.

/** A JSON Schema (draft-07) object, plus the `convexId` keyword registered by `compileValidator`. */
export type JSONSchema = { readonly [keyword: string]: unknown };

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
const FIELD_NAME_RE = new RegExp(FIELD_NAME_PATTERN, 'u');

/** Whether `key` may name a field of an encoded object (so not `$integer` and the like). */
export function isFieldName(key: string): boolean {
  return FIELD_NAME_RE.test(key);
}

/** An encoded Convex object: a JSON object whose keys are all valid field names (so not `{$integer: ...}` and the like). */
export function isEncodedObject(encoded: JSONValue): encoded is { [key: string]: JSONValue } {
  if (typeof encoded !== 'object' || encoded === null || Array.isArray(encoded)) return false;
  return Object.keys(encoded).every(isFieldName);
}

const taggedString = (key: string, pattern: string): JSONSchema => ({
  type: 'object',
  properties: { [key]: { type: 'string', pattern } },
  required: [key],
  additionalProperties: false,
});

/**
 * The JSON Schema of a validator's encoded values. A one-member union is its
 * member's schema; a record's key validator sits at
 * `propertyNames/allOf/1`, after the field-name rule at `propertyNames/allOf/0`.
 *
 * @example toJsonSchema(v.array(v.string())) // { type: 'array', items: { type: 'string' } }
 */
export function toJsonSchema(val: ValidatorNode): JSONSchema {
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
      const fields = Object.entries(val.fields);
      const required = fields.filter(([, f]) => f.isOptional !== 'optional').map(([k]) => k);
      return {
        type: 'object',
        properties: Object.fromEntries(fields.map(([k, f]) => [k, toJsonSchema(f)])),
        ...(required.length > 0 ? { required } : {}),
        additionalProperties: false,
      };
    }
    case 'union': {
      const members = val.members;
      if (members.length === 1) return toJsonSchema(members[0]!);
      return members.length === 0 ? { not: {} } : { anyOf: members.map(toJsonSchema) };
    }
    default:
      return unsupportedKind(val);
  }
}
