import { MAX_INT64, MIN_INT64, type Value } from '../values/value.js';

// Index keys as bytes whose memcmp order (SQLite BLOB, PostgreSQL bytea) is
// Convex's order of values, so a range over an index is a range scan.
//
// The order is Convex's (`compareValues` in the convex package's
// values/compare.ts, and the backend's `sorting.rs`):
//   undefined < null < int64 < float64 < boolean < string < bytes < array < object
// - floats: IEEE total order, -0 before 0. NaNs differ: Convex orders them by
//   their bits (a negative-signed NaN before -Infinity), but JS engines do not
//   keep NaN bits stable (V8's 0/0 is negative, the literal NaN positive), so
//   an index would file the "same" NaN in two places. Here every NaN is one
//   value, after +Infinity.
// - strings: by UTF-8 bytes, i.e. by code point, as Convex (Rust `String`
//   order, and the package's compareUTF8) — not JS's UTF-16 `<`, which puts
//   U+FF61 after U+1F600. A lone surrogate counts as its own code point.
// - arrays element-wise, a prefix first; objects as their (field, value)
//   pairs sorted by field name; bytes unsigned, a prefix first.
// - `undefined` fields of objects are absent, as in stored documents.
//
// Encoding, in the spirit of FoundationDB's tuple layer: each value is a tag
// byte then a self-delimiting body, so a tuple is the concatenation of its
// values, and no value's encoding is a prefix of another's — which is what
// makes `[encodeKey([x]), prefixUpperBound(encodeKey([x])))` exactly "first
// component is x". FoundationDB's own escape (0x00 -> 0x00 0xFF, then 0x00)
// is not prefix-free: "" encodes as a prefix of "\0". Here strings and bytes
// escape 0x00 -> 0x01 0x01 and 0x01 -> 0x01 0x02 (order-preserving) and end
// in 0x00, a byte their bodies never contain. Arrays and objects end in 0x00,
// which sorts before any tag, so shorter sorts first. Object fields are
// written as string values (with their tag), which keeps an empty field name
// from reading as the end of the object.

const TERMINATOR = 0x00;
const ESCAPE = 0x01;
const Tag = {
  undefined: 0x01,
  null: 0x02,
  int64: 0x03,
  float64: 0x04,
  false: 0x05,
  true: 0x06,
  string: 0x07,
  bytes: 0x08,
  array: 0x09,
  object: 0x0a,
} as const;

// One writer, reused: encoding is synchronous and never re-entered, and
// index maintenance encodes many keys per write.
class KeyWriter {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  start(): this {
    this.len = 0;
    return this;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  escaped(bytes: Uint8Array): void {
    this.reserve(bytes.length * 2 + 1);
    for (const b of bytes) {
      if (b > ESCAPE) {
        this.buf[this.len++] = b;
      } else {
        this.buf[this.len++] = ESCAPE;
        this.buf[this.len++] = b + 1;
      }
    }
    this.buf[this.len++] = TERMINATOR;
  }

  string(text: string): void {
    if (NEEDS_SLOW_PATH.test(text)) return this.escaped(wtf8(text));
    // No byte to escape and no lone surrogate: Buffer's UTF-8 is the body.
    this.reserve(text.length * 3 + 1);
    this.len += this.buf.write(text, this.len, 'utf8');
    this.buf[this.len++] = TERMINATOR;
  }

  // Flip the sign bit of positives and every bit of negatives: the bytes
  // then sort as the numbers do (FoundationDB's float encoding).
  float(n: number): void {
    this.reserve(9);
    this.buf[this.len++] = Tag.float64;
    const at = this.len;
    if (Number.isNaN(n)) this.buf.writeBigUInt64BE(CANONICAL_NAN, at);
    else this.buf.writeDoubleBE(n, at);
    if (this.buf[at]! & 0x80) for (let i = at; i < at + 8; i++) this.buf[i] = ~this.buf[i]! & 0xff;
    else this.buf[at]! ^= 0x80;
    this.len += 8;
  }

  int(n: bigint): void {
    if (n < MIN_INT64 || n > MAX_INT64) throw new Error(`BigInt ${n} does not fit into a 64-bit signed integer.`);
    this.reserve(9);
    this.buf[this.len++] = Tag.int64;
    this.buf.writeBigInt64BE(n, this.len);
    this.buf[this.len]! ^= 0x80;
    this.len += 8;
  }

  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

const writer = new KeyWriter();
const CANONICAL_NAN = 0x7ff8000000000000n; // the quiet NaN with the sign bit clear
// 0x00 and 0x01 need escaping; lone surrogates need WTF-8 (below).
const NEEDS_SLOW_PATH = /[\0\x01]|\p{Cs}/u;

// UTF-8, extended to encode lone surrogates as their code points (WTF-8),
// which keeps byte order equal to code point order for every JS string.
function wtf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

const definedFields = (obj: { [key: string]: Value | undefined }) =>
  Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort(compareStrings);

function write(w: KeyWriter, value: Value | undefined): void {
  if (value === undefined) return w.byte(Tag.undefined);
  if (value === null) return w.byte(Tag.null);
  switch (typeof value) {
    case 'bigint':
      return w.int(value);
    case 'number':
      return w.float(value);
    case 'boolean':
      return w.byte(value ? Tag.true : Tag.false);
    case 'string':
      w.byte(Tag.string);
      return w.string(value);
    case 'object':
      break;
    default:
      throw new Error(`${typeof value} is not a supported Convex value in an index key`);
  }
  if (value instanceof ArrayBuffer) {
    w.byte(Tag.bytes);
    return w.escaped(new Uint8Array(value));
  }
  if (Array.isArray(value)) {
    w.byte(Tag.array);
    for (const item of value) write(w, item);
    return w.byte(TERMINATOR);
  }
  if (ArrayBuffer.isView(value) || value instanceof Map || value instanceof Set) {
    throw new Error(`${value.constructor.name} is not a supported Convex value in an index key`);
  }
  w.byte(Tag.object);
  for (const key of definedFields(value)) {
    w.byte(Tag.string);
    w.string(key);
    write(w, value[key]);
  }
  w.byte(TERMINATOR);
}

/**
 * Encodes a tuple of values (an index key; `undefined` for a missing field)
 * so that `Buffer.compare` orders encodings as the tuples compare
 * lexicographically by `compareValues`, a shorter prefix first.
 *
 * @example Buffer.compare(encodeKey(['a', 1]), encodeKey(['a', 2])) // -1
 */
export function encodeKey(values: readonly (Value | undefined)[]): Buffer {
  const w = writer.start();
  for (const value of values) write(w, value);
  return w.finish();
}

/**
 * The smallest key greater than every key starting with `prefix`, or null
 * when there is none (`prefix` is empty or all 0xFF). `[encodeKey(t),
 * prefixUpperBound(encodeKey(t)))` holds exactly the keys extending tuple `t`.
 *
 * @example prefixUpperBound(Buffer.from([1, 0xff])) // <Buffer 02>
 */
export function prefixUpperBound(prefix: Uint8Array): Buffer | null {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return null;
  const bound = Buffer.from(prefix.subarray(0, end));
  bound[end - 1]! += 1;
  return bound;
}

function typeRank(v: Value | undefined): number {
  if (v === undefined) return 0;
  if (v === null) return 1;
  switch (typeof v) {
    case 'bigint':
      return 2;
    case 'number':
      return 3;
    case 'boolean':
      return 4;
    case 'string':
      return 5;
  }
  if (v instanceof ArrayBuffer) return 6;
  return Array.isArray(v) ? 7 : 8;
}

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

// Code point order without allocating: find the first differing UTF-16 unit,
// step back if it splits a surrogate pair, and compare the code points there.
function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return sign(a.length - b.length);
  if (i > 0 && isHigh(a.charCodeAt(i - 1)) && (isLow(a.charCodeAt(i)) || isLow(b.charCodeAt(i)))) i--;
  return sign(a.codePointAt(i)! - b.codePointAt(i)!);
}

function compareNumbers(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : -1;
  if (a !== b) return a < b ? -1 : 1;
  if (a !== 0) return 0;
  return Object.is(a, -0) === Object.is(b, -0) ? 0 : Object.is(a, -0) ? -1 : 1;
}

function compareBytes(a: ArrayBuffer, b: ArrayBuffer): number {
  return Buffer.compare(new Uint8Array(a), new Uint8Array(b));
}

/**
 * Convex's total order of values (see the top of this file), the same order
 * `encodeKey` gives as bytes. Returns -1, 0 or 1.
 *
 * @example [3n, 'a', null, 2].sort(compareValues) // [null, 3n, 2, 'a']
 */
export function compareValues(a: Value | undefined, b: Value | undefined): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
    case 1:
      return 0;
    case 2:
      return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
    case 3:
      return compareNumbers(a as number, b as number);
    case 4:
      return a === b ? 0 : a ? 1 : -1;
    case 5:
      return compareStrings(a as string, b as string);
    case 6:
      return compareBytes(a as ArrayBuffer, b as ArrayBuffer);
    case 7: {
      const x = a as Value[];
      const y = b as Value[];
      for (let i = 0; i < x.length && i < y.length; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return sign(x.length - y.length);
    }
    default: {
      const x = a as { [key: string]: Value | undefined };
      const y = b as { [key: string]: Value | undefined };
      const kx = definedFields(x);
      const ky = definedFields(y);
      for (let i = 0; i < kx.length && i < ky.length; i++) {
        const c = compareStrings(kx[i]!, ky[i]!) || compareValues(x[kx[i]!], y[ky[i]!]);
        if (c !== 0) return c;
      }
      return sign(kx.length - ky.length);
    }
  }
}
