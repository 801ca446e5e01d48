// The Convex value model and its two JSON forms. `convex_encoded_json` must
// round-trip byte for byte with the `convex` npm package (clients decode what
// we send with its `jsonToConvex`), so the encoder below follows the package's
// algorithm and error messages exactly; test/values/value.test.ts cross-checks
// the two on every edge case we know.

/** A Convex value. Objects may carry `undefined` fields; encoding drops them. */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | ArrayBuffer
  | Value[]
  | { [key: string]: Value | undefined };

/** Plain JSON, as `JSON.parse` returns it. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };

export const MIN_INT64 = -(2n ** 63n);
export const MAX_INT64 = 2n ** 63n - 1n;

/** How deeply arrays and objects may nest in one value, as Convex's `MAX_NESTING`. */
export const MAX_VALUE_NESTING = 64;

/**
 * A JS value that is not a Convex value, or JSON that encodes none. Its name
 * stays `Error`, as the package's errors print (`Uncaught Error: ...`); the
 * class lets a caller tell a client's malformed value from a fault.
 */
export class ValueError extends Error {
  override name = 'Error';
}

/** Convex's `TooNestedError`: the level reported is the first one past the limit. */
function tooNested(level: number): ValueError {
  return new ValueError(`Value is too nested (nested ${level} levels deep > maximum nesting ${MAX_VALUE_NESTING})`);
}

/**
 * `out[key] = value`, except that a `__proto__` field stays a field: the
 * assignment would replace the object's prototype instead, dropping the
 * field and handing its contents to every lookup on the object.
 */
function setField<T>(out: { [key: string]: T }, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

const MAX_FIELD_NAME_LENGTH = 1024;
const MAX_VALUE_FOR_ERROR_LEN = 16384;
const TYPES_URL = 'https://docs.convex.dev/using/types';

// Standard or URL-safe alphabet, padded to a multiple of 4: what the package's
// decoder accepts. It silently reads stray characters as zero bits; we refuse
// them instead, since a server must not guess at malformed input.
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}==|[A-Za-z0-9+/_-]{3}=)?$/;

/** NaN, ±Infinity and -0: the floats JSON cannot carry as numbers. */
export function isSpecialFloat(n: number): boolean {
  return Number.isNaN(n) || !Number.isFinite(n) || Object.is(n, -0);
}

function base64Encode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function base64Decode(text: string, what: string, json: JSONValue): Uint8Array {
  if (!BASE64.test(text)) {
    throw new ValueError(`Malformed ${what} field on ${JSON.stringify(json)}: ${JSON.stringify(text)} is not base64`);
  }
  // Copy out of Buffer's shared pool so `.buffer` is exactly these bytes.
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function int64Bytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, value, true);
  return bytes;
}

function float64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return bytes;
}

/** Plain objects only: literals, `Object.create(null)`, or plain objects from another realm. */
export function isSimpleObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (
    proto === null ||
    proto === Object.prototype ||
    (proto as { constructor?: { name?: unknown } }).constructor?.name === 'Object'
  );
}

/**
 * Throws the package's message if `name` cannot be an object field: longer
 * than 1024 characters, starting with `$`, or not printable ASCII.
 */
export function validateFieldName(name: string): void {
  if (name.length > MAX_FIELD_NAME_LENGTH) {
    throw new ValueError(`Field name ${name} exceeds maximum field name length ${MAX_FIELD_NAME_LENGTH}.`);
  }
  if (name.startsWith('$')) {
    throw new ValueError(`Field name ${name} starts with a '$', which is reserved.`);
  }
  for (let i = 0; i < name.length; i += 1) {
    const code = name.charCodeAt(i);
    if (code < 32 || code >= 127) {
      throw new ValueError(
        `Field name ${name} has invalid character '${name[i]}': Field names can only contain non-control ASCII characters`,
      );
    }
  }
}

/**
 * JSON-ish text of any JS value for error messages, cut at 16 KiB, as the
 * package's `stringifyValueForError` (bigints print as `1n`).
 */
export function stringifyValueForError(value: unknown): string {
  const text =
    JSON.stringify(value, (_key, v: unknown) => {
      if (v === undefined) return 'undefined';
      if (typeof v === 'function') return '[Function]';
      if (typeof v === 'symbol') return String(v);
      if (typeof v === 'bigint') return `${v.toString()}n`;
      return v;
    }) ?? 'undefined';
  if (text.length <= MAX_VALUE_FOR_ERROR_LEN) return text;
  const rest = '[...truncated]';
  let cut = MAX_VALUE_FOR_ERROR_LEN - rest.length;
  const codePoint = text.codePointAt(cut - 1);
  if (codePoint !== undefined && codePoint > 0xffff) cut -= 1;
  return text.substring(0, cut) + rest;
}

function unsupportedType(context: string, typeName: string, value: unknown, original: unknown): Error {
  const shown = `${typeName}${stringifyValueForError(value)}`;
  if (!context) return new ValueError(`${shown} is not a supported Convex type.`);
  return new ValueError(
    `${shown} is not a supported Convex type (present at path ${context} in original object ${stringifyValueForError(
      original,
    )}). To learn about Convex's supported types, see ${TYPES_URL}.`,
  );
}

// One walk serves both output formats so that both reject the same inputs
// with the same messages; `clean` selects the `json` export format.
function toJson(value: unknown, original: unknown, context: string, clean: boolean, depth: number): JSONValue {
  if (value === undefined) {
    const where = context
      ? ` (present at path ${context} in original object ${stringifyValueForError(original)})`
      : '';
    throw new ValueError(`undefined is not a valid Convex value${where}. To learn about Convex's supported types, see ${TYPES_URL}.`);
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'bigint') {
    if (value < MIN_INT64 || MAX_INT64 < value) {
      throw new ValueError(`BigInt ${value} does not fit into a 64-bit signed integer.`);
    }
    return clean ? value.toString() : { $integer: base64Encode(int64Bytes(value)) };
  }
  if (typeof value === 'number') {
    if (!isSpecialFloat(value)) return value;
    if (clean) return Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : value;
    return { $float: base64Encode(float64Bytes(value)) };
  }
  if (value instanceof ArrayBuffer) {
    const text = base64Encode(new Uint8Array(value));
    return clean ? text : { $bytes: text };
  }
  if (Array.isArray(value)) {
    if (depth >= MAX_VALUE_NESTING) throw tooNested(depth + 1);
    return value.map((item: unknown, i) => toJson(item, original, `${context}[${i}]`, clean, depth + 1));
  }
  if (value instanceof Set) throw unsupportedType(context, 'Set', [...value], original);
  if (value instanceof Map) throw unsupportedType(context, 'Map', [...value], original);
  if (!isSimpleObject(value)) {
    const name = (value as { constructor?: { name?: string } } | undefined)?.constructor?.name;
    throw unsupportedType(context, name ? `${name} ` : '', value, original);
  }
  if (depth >= MAX_VALUE_NESTING) throw tooNested(depth + 1);
  // UTF-16 order, as the package sorts: clients compare encodings textually.
  const entries = Object.entries(value).sort(([a], [b]) => (a === b ? 0 : a < b ? -1 : 1));
  const out: { [key: string]: JSONValue } = {};
  for (const [key, field] of entries) {
    if (field === undefined) continue;
    validateFieldName(key);
    setField(out, key, toJson(field, original, `${context}.${key}`, clean, depth + 1));
  }
  return out;
}

/**
 * Encodes a value as `convex_encoded_json`, exactly as the `convex` package's
 * `convexToJson`: keys sorted, undefined fields dropped, int64/bytes/special
 * floats tagged.
 *
 * @example convexToJson({ n: 1n }) // { n: { $integer: 'AQAAAAAAAAA=' } }
 */
export function convexToJson(value: Value): JSONValue {
  return toJson(value, value, '', false, 0);
}

/**
 * Encodes a value in the clean `json` export format: int64 as a decimal
 * string, bytes as base64, NaN/±Infinity as strings; not invertible.
 *
 * @example toCleanJson({ n: 1n, f: NaN }) // { f: 'NaN', n: '1' }
 */
export function toCleanJson(value: Value): JSONValue {
  return toJson(value, value, '', true, 0);
}

function decodeSpecial(key: string, json: { [key: string]: JSONValue }): Value {
  const field = json[key];
  if (key === '$set' || key === '$map') {
    const type = key === '$set' ? 'Set' : 'Map';
    throw new ValueError(`Received a ${type} which is no longer supported as a Convex type.`);
  }
  if (key === '$commitTs') {
    throw new ValueError('Received a `$commitTs` placeholder, which is not supported here.');
  }
  if (typeof field !== 'string') {
    throw new ValueError(`Malformed ${key} field on ${JSON.stringify(json)}: expected a base64 string`);
  }
  const bytes = base64Decode(field, key, json);
  if (key === '$bytes') return bytes.buffer as ArrayBuffer;
  if (bytes.byteLength !== 8) {
    throw new ValueError(`Received ${bytes.byteLength} bytes, expected 8 for ${key}`);
  }
  const view = new DataView(bytes.buffer);
  if (key === '$integer') return view.getBigInt64(0, true);
  const float = view.getFloat64(0, true);
  if (!isSpecialFloat(float)) throw new ValueError(`Float ${float} should be encoded as a number`);
  return float;
}

const SPECIAL_KEYS = new Set(['$bytes', '$integer', '$float', '$commitTs', '$set', '$map']);

/**
 * Decodes `convex_encoded_json` back to a value, the inverse of
 * `convexToJson`. Throws on malformed `$integer`/`$bytes`/`$float` objects,
 * on `$`-prefixed field names and on invalid field names.
 *
 * @example jsonToConvex({ $integer: 'AQAAAAAAAAA=' }) // 1n
 */
export function jsonToConvex(json: JSONValue): Value {
  return fromJson(json, 0);
}

/** `depth`: how many arrays and objects enclose `json`; past MAX_VALUE_NESTING it fails before recursing further. */
function fromJson(json: JSONValue, depth: number): Value {
  if (json === null || typeof json === 'boolean' || typeof json === 'number' || typeof json === 'string') {
    return json;
  }
  if (typeof json !== 'object') throw new ValueError(`Unexpected type of ${String(json)}`);
  if (Array.isArray(json)) {
    if (depth >= MAX_VALUE_NESTING) throw tooNested(depth + 1);
    return json.map((item) => fromJson(item, depth + 1));
  }
  const keys = Object.keys(json);
  // `{$integer: ...}` and its kind are one scalar, not a level of nesting.
  if (keys.length === 1 && SPECIAL_KEYS.has(keys[0]!)) return decodeSpecial(keys[0]!, json);
  if (depth >= MAX_VALUE_NESTING) throw tooNested(depth + 1);
  const out: { [key: string]: Value } = {};
  for (const key of keys) {
    validateFieldName(key);
    setField(out, key, fromJson(json[key]!, depth + 1));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Display for error messages, in the backend's (Rust) `Display` style, so that
// `Value: ...` lines read as Convex's: floats always show a fraction (`12.0`),
// strings are quoted, objects are `{a: 1.0}` with sorted keys.

/** Rust's `{:?}` of an f64: shortest digits, `1e16`/`1e-5` outside [1e-4, 1e16). */
export function formatFloatLikeRust(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(n);
  if (abs < 1e-4 || abs >= 1e16) return n.toExponential().replace('e+', 'e');
  const text = String(n);
  return text.includes('.') ? text : `${text}.0`;
}

// Rust's `str` Debug escapes these as \u{..}: control, format, unassigned,
// private-use and separator characters (but ' '), and combining marks.
const NEEDS_UNICODE_ESCAPE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]/u;
const SIMPLE_ESCAPES: Record<string, string> = { '\t': '\\t', '\r': '\\r', '\n': '\\n', '\\': '\\\\', '"': '\\"', '\0': '\\0' };

/** A string quoted and escaped as Rust's `{:?}` prints it. */
export function quoteLikeRust(text: string): string {
  let out = '"';
  for (const ch of text) {
    const simple = SIMPLE_ESCAPES[ch];
    if (simple !== undefined) out += simple;
    else if (ch !== ' ' && NEEDS_UNICODE_ESCAPE.test(ch)) out += `\\u{${ch.codePointAt(0)!.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

class Truncated extends Error {}

function display(value: Value | undefined, out: { text: string; budget: number }): void {
  const put = (s: string) => {
    out.text += s;
    if (out.text.length > out.budget) throw new Truncated();
  };
  if (value === undefined) return put('undefined');
  if (value === null) return put('null');
  switch (typeof value) {
    case 'boolean':
      return put(String(value));
    case 'bigint':
      return put(value.toString());
    case 'number':
      return put(formatFloatLikeRust(value));
    case 'string':
      return put(quoteLikeRust(value));
  }
  if (value instanceof ArrayBuffer) return put(`b${quoteLikeRust(base64Encode(new Uint8Array(value)))}`);
  if (Array.isArray(value)) {
    put('[');
    value.forEach((item, i) => {
      if (i > 0) put(', ');
      display(item, out);
    });
    return put(']');
  }
  put('{');
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const field = value[key];
    if (field === undefined) continue;
    if (!first) put(', ');
    first = false;
    put(`${key}: `);
    display(field, out);
  }
  put('}');
}

/**
 * A value as Convex's error messages print it (`12.0`, `"text"`, `{a: 1n}`
 * as `{a: 1}`), cut at 16 KiB.
 *
 * @example valueToString({ author: 12 }) // '{author: 12.0}'
 */
export function valueToString(value: Value | undefined): string {
  const out = { text: '', budget: MAX_VALUE_FOR_ERROR_LEN };
  try {
    display(value, out);
    return out.text;
  } catch (error) {
    if (!(error instanceof Truncated)) throw error;
    return `${out.text.slice(0, MAX_VALUE_FOR_ERROR_LEN)}[...truncated]`;
  }
}
