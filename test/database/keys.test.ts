import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as convex from 'convex/values';
import { compareValues, encodeKey, prefixUpperBound } from '../../src/database/keys.js';
import type { Value } from '../../src/values/value.js';

// The encoding is only useful if memcmp on it is exactly compareValues, and
// compareValues is only right if it is Convex's order. Both are checked on
// many random values of every type, nested, with the edge cases that break
// naive encodings (NUL bytes, -0, NaN, surrogates, empty containers).

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function floatFromBits(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

const NEGATIVE_NAN = floatFromBits(0xfff8000000000000n);
const EDGE_NUMBERS = [
  -Infinity, -Number.MAX_VALUE, -1e300, -2, -1, -0.5, -Number.MIN_VALUE, -0, 0, Number.MIN_VALUE, 0.5, 1, 2, 2 ** 53, 1e300,
  Number.MAX_VALUE, Infinity, NaN,
];
const EDGE_BIGINTS = [-(2n ** 63n), -(2n ** 63n) + 1n, -256n, -255n, -1n, 0n, 1n, 255n, 256n, 2n ** 32n, 2n ** 63n - 1n];
const EDGE_STRINGS = ['', '\0', '\0\0', '\0\u0001', 'a', 'a\0', 'a\0b', 'a\u0001', 'ab', 'b', '\u007f', '\u0080', 'é', '\uff61', '😀', '\ud800', '\udfff', '\ud800\udc00', 'z\ud83d', '\ud83dz', '\uffff', ' '];
const EDGE_BYTES = [[], [0], [0, 0], [0, 1], [0, 255], [1], [255], [255, 0], [255, 255]];
const KEYS = ['', 'a', 'b', 'ab', '_id', 'z'];

function randomString(random: () => number): string {
  if (random() < 0.5) return EDGE_STRINGS[Math.floor(random() * EDGE_STRINGS.length)]!;
  const pieces = ['\0', 'a', 'b', 'é', '\uff61', '😀', '\ud800', '\udc00', '\u0001', 'ÿ'];
  let s = '';
  const length = Math.floor(random() * 4);
  for (let i = 0; i < length; i++) s += pieces[Math.floor(random() * pieces.length)];
  return s;
}

function randomValue(random: () => number, depth = 0): Value {
  const kind = Math.floor(random() * (depth >= 3 ? 7 : 9));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.7 ? EDGE_BIGINTS[Math.floor(random() * EDGE_BIGINTS.length)]! : BigInt.asIntN(64, BigInt(Math.floor(random() * 2 ** 52)) * 4099n);
    case 2: {
      const r = random();
      if (r < 0.6) return EDGE_NUMBERS[Math.floor(random() * EDGE_NUMBERS.length)]!;
      if (r < 0.65) return NEGATIVE_NAN;
      return (random() - 0.5) * 10 ** Math.floor(random() * 10);
    }
    case 3:
      return random() < 0.5;
    case 4:
    case 5:
      return randomString(random);
    case 6:
      return Uint8Array.from(EDGE_BYTES[Math.floor(random() * EDGE_BYTES.length)]!).buffer;
    case 7:
      return Array.from({ length: Math.floor(random() * 3) }, () => randomValue(random, depth + 1));
    default: {
      const out: Record<string, Value | undefined> = {};
      for (const key of KEYS) if (random() < 0.3) out[key] = random() < 0.15 ? undefined : randomValue(random, depth + 1);
      return out;
    }
  }
}

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const bytesOf = (value: Value | undefined) => encodeKey([value]);

function sample(seed: number, count: number): (Value | undefined)[] {
  const random = rng(seed);
  const values: (Value | undefined)[] = [undefined];
  for (let i = 0; i < count; i++) values.push(randomValue(random));
  return values;
}

test('memcmp of encoded keys equals compareValues on every pair of random values', () => {
  const values = sample(1, 600);
  const encoded = values.map(bytesOf);
  for (let i = 0; i < values.length; i++) {
    for (let j = 0; j < values.length; j++) {
      const expected = sign(compareValues(values[i], values[j]));
      const actual = Buffer.compare(encoded[i]!, encoded[j]!);
      if (expected !== actual) {
        assert.fail(`compareValues says ${expected}, bytes say ${actual} for ${String(values[i])} vs ${String(values[j])}`);
      }
      // Prefix-free: a different value never starts with this one's bytes.
      const [a, b] = [encoded[i]!, encoded[j]!];
      if (expected !== 0 && a.length < b.length && b.subarray(0, a.length).equals(a)) {
        assert.fail(`the encoding of ${String(values[i])} is a prefix of that of ${String(values[j])}`);
      }
    }
  }
});

test('sorting by compareValues and sorting by encoded bytes give the same order', () => {
  const values = sample(2, 3000);
  // Sorted through wrappers: Array#sort moves undefined to the end unasked.
  const byValue = values
    .map((value) => ({ value }))
    .sort((a, b) => compareValues(a.value, b.value))
    .map(({ value }) => value);
  const byBytes = values
    .map((value) => ({ value, key: bytesOf(value) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ value }) => value);
  assert.equal(byValue[0], undefined);
  for (let i = 0; i < byValue.length; i++) {
    assert.equal(compareValues(byValue[i], byBytes[i]), 0, `position ${i}`);
  }
});

test('equal values encode identically, so an index lookup finds them', () => {
  const values = sample(3, 400);
  for (const a of values) {
    for (const b of values) {
      if (compareValues(a, b) === 0) assert.deepEqual(bytesOf(a), bytesOf(b));
    }
  }
  // Every NaN is the same value.
  assert.deepEqual(bytesOf(NaN), bytesOf(NEGATIVE_NAN));
  assert.deepEqual(bytesOf(NaN), bytesOf(floatFromBits(0x7ff0000000000001n)));
  // Undefined fields are absent.
  assert.deepEqual(bytesOf({ a: 1, b: undefined }), bytesOf({ a: 1 }));
});

// The package orders NaNs by their bits and counts undefined object fields
// as present; values with either are left out of the comparison with it.
function outsideDocumentedDifferences(value: Value | undefined): boolean {
  if (typeof value === 'number') return !Number.isNaN(value);
  if (Array.isArray(value)) return value.every(outsideDocumentedDifferences);
  if (value !== null && typeof value === 'object' && !(value instanceof ArrayBuffer)) {
    return Object.values(value).every((field) => field !== undefined && outsideDocumentedDifferences(field));
  }
  return true;
}

test('compareValues agrees with the convex package outside the documented NaN difference', () => {
  const values = sample(4, 500).filter(outsideDocumentedDifferences);
  assert.ok(values.length > 300, `only ${values.length} values kept`);
  for (const a of values) {
    for (const b of values) {
      assert.equal(compareValues(a, b), sign(convex.compareValues(a as convex.Value, b as convex.Value)));
    }
  }
});

test('types sort undefined < null < int64 < float64 < boolean < string < bytes < array < object', () => {
  const ordered: (Value | undefined)[] = [undefined, null, 2n ** 63n - 1n, -Infinity, false, true, '', new ArrayBuffer(0), [], {}];
  for (let i = 0; i + 1 < ordered.length; i++) {
    assert.equal(compareValues(ordered[i], ordered[i + 1]), -1, `${i}`);
    assert.equal(Buffer.compare(bytesOf(ordered[i]), bytesOf(ordered[i + 1])), -1, `${i}`);
  }
});

test('numbers follow the IEEE total order, -0 before 0, every NaN last', () => {
  const ordered = [-Infinity, -Number.MAX_VALUE, -1, -Number.MIN_VALUE, -0, 0, Number.MIN_VALUE, 1, Number.MAX_VALUE, Infinity, NaN];
  for (let i = 0; i + 1 < ordered.length; i++) {
    assert.equal(compareValues(ordered[i]!, ordered[i + 1]!), -1, `${ordered[i]} < ${ordered[i + 1]}`);
    assert.equal(Buffer.compare(bytesOf(ordered[i]!), bytesOf(ordered[i + 1]!)), -1, `${ordered[i]} < ${ordered[i + 1]}`);
  }
  assert.equal(compareValues(NEGATIVE_NAN, -Infinity), 1);
  assert.equal(compareValues(NaN, NEGATIVE_NAN), 0);
  // The deliberate difference: Convex puts a NaN whose sign bit is set first.
  assert.equal(convex.compareValues(NEGATIVE_NAN, -Infinity), -1);
});

test('strings sort by UTF-8 bytes (code points), not by UTF-16 units', () => {
  // JS `<` puts U+FF61 after U+1F600 (0xFF61 > 0xD83D); UTF-8 does not.
  assert.ok('\uff61' > '😀');
  assert.equal(compareValues('\uff61', '😀'), -1);
  assert.equal(Buffer.compare(bytesOf('\uff61'), bytesOf('😀')), -1);
  for (const [a, b] of [['a', 'a\0'], ['a\0', 'a\0\0'], ['a\0\0', 'a\u0001'], ['a\u0001', 'b'], ['', '\0']] as const) {
    assert.equal(compareValues(a, b), -1, JSON.stringify([a, b]));
    assert.equal(Buffer.compare(bytesOf(a), bytesOf(b)), -1, JSON.stringify([a, b]));
  }
  assert.deepEqual(bytesOf('é'), Buffer.from([0x07, 0xc3, 0xa9, 0x00]));
});

test('no string encoding is a prefix of another (regression: "" was a prefix of "\\0" with 0x00 -> 0x00 0xFF escaping)', () => {
  for (const [a, b] of [['', '\0'], ['a', 'a\0'], ['\0', '\0\0']] as const) {
    const [x, y] = [bytesOf(a), bytesOf(b)];
    assert.equal(y.subarray(0, x.length).equals(x), false, JSON.stringify([a, b]));
    const [p, q] = [bytesOf(Uint8Array.from(Buffer.from(a)).buffer), bytesOf(Uint8Array.from(Buffer.from(b)).buffer)];
    assert.equal(q.subarray(0, p.length).equals(p), false, `bytes ${JSON.stringify([a, b])}`);
  }
});

test('a tuple sorts lexicographically, and a prefix before its extensions', () => {
  const random = rng(5);
  for (let i = 0; i < 3000; i++) {
    const a = [randomValue(random), randomValue(random)];
    const b = random() < 0.3 ? [a[0]!, randomValue(random)] : [randomValue(random), randomValue(random)];
    const expected = sign(compareValues(a[0], b[0]) || compareValues(a[1], b[1]));
    assert.equal(Buffer.compare(encodeKey(a), encodeKey(b)), expected);
    assert.equal(Buffer.compare(encodeKey(a.slice(0, 1)), encodeKey(a)), -1);
    assert.ok(encodeKey(a).subarray(0, encodeKey(a.slice(0, 1)).length).equals(encodeKey(a.slice(0, 1))));
  }
  assert.equal(Buffer.compare(encodeKey([]), encodeKey([undefined])), -1);
  // An empty field name is not the end of its object.
  assert.equal(Buffer.compare(encodeKey([{}, null, 1]), encodeKey([{ '': null }])), -1);
});

test('[encodeKey([x]), prefixUpperBound(encodeKey([x]))) holds exactly the tuples starting with x', () => {
  const random = rng(6);
  const firsts = sample(7, 150);
  for (let i = 0; i < 4000; i++) {
    const x = firsts[Math.floor(random() * firsts.length)];
    const lower = encodeKey([x]);
    const upper = prefixUpperBound(lower);
    const tuple = [random() < 0.3 ? x : firsts[Math.floor(random() * firsts.length)], randomValue(random)];
    const key = encodeKey(random() < 0.2 ? tuple.slice(0, 1) : tuple);
    const inRange = Buffer.compare(key, lower) >= 0 && (upper === null || Buffer.compare(key, upper) < 0);
    assert.equal(inRange, compareValues(tuple[0], x) === 0, `${String(x)} vs ${String(tuple[0])}`);
  }
});

test('prefixUpperBound increments past trailing 0xFF bytes and has no bound for all-0xFF', () => {
  assert.deepEqual(prefixUpperBound(Buffer.from([1, 2])), Buffer.from([1, 3]));
  assert.deepEqual(prefixUpperBound(Buffer.from([1, 0xff, 0xff])), Buffer.from([2]));
  assert.equal(prefixUpperBound(Buffer.from([0xff, 0xff])), null);
  assert.equal(prefixUpperBound(Buffer.alloc(0)), null);
  // The largest int64 encodes with trailing 0xFF bytes; its range still excludes every float.
  const max = encodeKey([2n ** 63n - 1n]);
  const bound = prefixUpperBound(max)!;
  assert.equal(Buffer.compare(encodeKey([2n ** 63n - 1n, 'x']), bound), -1);
  assert.equal(Buffer.compare(encodeKey([-Infinity]), bound) >= 0, true);
  // The input is not modified.
  const input = Buffer.from([5, 6]);
  prefixUpperBound(input);
  assert.deepEqual(input, Buffer.from([5, 6]));
});

test('encodeKey refuses values outside the Convex value model', () => {
  assert.throws(() => encodeKey([2n ** 63n]), { message: 'BigInt 9223372036854775808 does not fit into a 64-bit signed integer.' });
  assert.throws(() => encodeKey([new Map() as never]), { message: /Map is not a supported Convex value/ });
  assert.throws(() => encodeKey([new Uint8Array(1) as never]), { message: /Uint8Array is not a supported Convex value/ });
  assert.throws(() => encodeKey([(() => 1) as never]), { message: /function is not a supported Convex value/ });
});
