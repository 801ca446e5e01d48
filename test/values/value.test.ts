import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as convex from 'convex/values';
import {
  convexToJson,
  jsonToConvex,
  stringifyValueForError,
  toCleanJson,
  valueToString,
  type JSONValue,
  type Value,
} from '../../src/values/value.js';

// The `convex` package is the reference: clients decode with its
// jsonToConvex, so every encoding and every error message must match it.

function floatFromBits(bits: bigint): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, bits);
  return view.getFloat64(0);
}

function bytes(...values: number[]): ArrayBuffer {
  return Uint8Array.from(values).buffer;
}

const nullProto = Object.assign(Object.create(null) as Record<string, Value>, { b: 1, a: 'x' });

const VALID: [string, Value][] = [
  ['null', null],
  ['true', true],
  ['false', false],
  ['zero', 0],
  ['negative zero', -0],
  ['integer-valued float', 12],
  ['fraction', -1.5],
  ['NaN', NaN],
  ['NaN with the sign bit (what V8 computes for 0/0)', floatFromBits(0xfff8000000000000n)],
  ['NaN with a payload', floatFromBits(0x7ff0000000000001n)],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['largest float', Number.MAX_VALUE],
  ['smallest subnormal', Number.MIN_VALUE],
  ['beyond safe integers', 2 ** 60],
  ['bigint zero', 0n],
  ['bigint one', 1n],
  ['bigint minus one', -1n],
  ['max int64', 2n ** 63n - 1n],
  ['min int64', -(2n ** 63n)],
  ['bigint 2^32', 2n ** 32n],
  ['empty string', ''],
  ['NUL in a string', 'a\0b'],
  ['non-ASCII string', 'héllo wörld'],
  ['astral string', '😀'],
  ['lone surrogate', '\ud800x'],
  ['empty bytes', new ArrayBuffer(0)],
  ['bytes 0 and 255', bytes(0, 255, 1, 254)],
  ['bytes of length 1', bytes(7)],
  ['bytes of length 2', bytes(7, 8)],
  ['bytes of length 3', bytes(7, 8, 9)],
  ['empty array', []],
  ['nested arrays', [1, [2, [3n, [new ArrayBuffer(1)]]]]],
  ['empty object', {}],
  ['keys out of order', { z: 1, a: 2, B: 3, _x: 4, '0': 5 }],
  ['undefined field dropped', { a: 1, b: undefined }],
  ['$-key with undefined is dropped, not refused', { $a: undefined, b: 1 }],
  ['empty key', { '': 1 }],
  ['1024-character key', { ['k'.repeat(1024)]: true }],
  ['printable ASCII key', { ' ~!': 1 }],
  ['object without prototype', nullProto],
  ['nested objects', { outer: { inner: { n: 5n, f: NaN, b: bytes(1), list: [{ x: -0 }] } } }],
];

test('convexToJson matches the convex package on every valid value, key order included', () => {
  for (const [name, value] of VALID) {
    const ours = convexToJson(value);
    const theirs = convex.convexToJson(value as convex.Value);
    assert.equal(JSON.stringify(ours), JSON.stringify(theirs), name);
  }
});

test('jsonToConvex inverts convexToJson exactly as the convex package does', () => {
  for (const [name, value] of VALID) {
    const encoded = convex.convexToJson(value as convex.Value) as JSONValue;
    const ours = jsonToConvex(encoded);
    assert.deepStrictEqual(ours, convex.jsonToConvex(encoded as convex.JSONValue), name);
    // NaN bits survive the round trip (deepStrictEqual cannot see them).
    assert.equal(JSON.stringify(convexToJson(ours)), JSON.stringify(encoded), name);
  }
});

test('jsonToConvex decodes URL-safe base64 and stray padding bits as the package does', () => {
  const cases: JSONValue[] = [
    { $bytes: '-_8=' },
    { $bytes: '+/8=' },
    { $bytes: 'AB==' },
    { $integer: 'AQAAAAAAAAB=' },
    { $integer: '__________8=' },
    { $float: 'AAAAAAAA8P8=' },
    { a: { $bytes: '' } },
  ];
  for (const json of cases) {
    assert.deepStrictEqual(jsonToConvex(json), convex.jsonToConvex(json as convex.JSONValue), JSON.stringify(json));
  }
});

class Point {
  x = 1;
}

const INVALID: [string, unknown][] = [
  ['undefined', undefined],
  ['undefined in an array', [1, undefined]],
  ['undefined nested in an array', { a: [undefined] }],
  ['bigint above int64', 2n ** 63n],
  ['bigint below int64', -(2n ** 63n) - 1n],
  ['Set', new Set([1, 2])],
  ['Map', new Map([[1, 2]])],
  ['Set nested', { s: new Set(['a']) }],
  ['Map nested in an array', [new Map()]],
  ['Date', new Date(0)],
  ['class instance', new Point()],
  ['class instance nested', { p: new Point() }],
  ['function', () => 1],
  ['function nested', { f() {} }],
  ['symbol', Symbol('s')],
  ['Uint8Array (not an ArrayBuffer)', new Uint8Array([1, 2])],
  ['key starting with $', { $a: 1 }],
  ['non-ASCII key', { é: 1 }],
  ['control character in a key', { 'a\nb': 1 }],
  ['DEL in a key', { 'a\u007f': 1 }],
  ['1025-character key', { ['k'.repeat(1025)]: 1 }],
  ['bad key nested', { a: { b: { $c: 1 } } }],
];

test('convexToJson refuses what the convex package refuses, with the same message', () => {
  for (const [name, value] of INVALID) {
    let expected: string | undefined;
    try {
      convex.convexToJson(value as convex.Value);
    } catch (error) {
      expected = (error as Error).message;
    }
    assert.ok(expected, `the package accepts ${name}`);
    assert.throws(() => convexToJson(value as Value), { message: expected }, name);
  }
});

test('toCleanJson writes int64 as decimal, bytes as base64 and non-finite floats as words', () => {
  assert.deepStrictEqual(
    toCleanJson({ n: 1n, min: -(2n ** 63n), f: NaN, i: Infinity, ni: -Infinity, b: bytes(1, 2, 3), s: 'x', x: 1.5, l: [2n], u: undefined }),
    { b: 'AQID', f: 'NaN', i: 'Infinity', l: ['2'], min: '-9223372036854775808', n: '1', ni: '-Infinity', s: 'x', x: 1.5 },
  );
  assert.equal(Object.is(toCleanJson(-0), -0), true);
  assert.throws(() => toCleanJson({ $bad: 1 }), { message: /starts with a '\$'/ });
});

test('jsonToConvex names the problem in a malformed $integer, $bytes or $float', () => {
  const cases: [JSONValue, RegExp][] = [
    [{ $integer: 5 }, /^Malformed \$integer field on \{"\$integer":5\}: expected a base64 string$/],
    [{ $integer: 'AQ==' }, /^Received 1 bytes, expected 8 for \$integer$/],
    [{ $integer: '!!!!!!!!!!!=' }, /^Malformed \$integer field .*is not base64$/],
    [{ $bytes: 'abc' }, /^Malformed \$bytes field on \{"\$bytes":"abc"\}: "abc" is not base64$/],
    [{ $bytes: null }, /^Malformed \$bytes field/],
    [{ $float: 'AAAAAAAA8D8=' }, /^Float 1 should be encoded as a number$/],
    [{ $float: 'AAAA' }, /^Received 3 bytes, expected 8 for \$float$/],
    [{ $set: [] }, /Set which is no longer supported/],
    [{ $map: [] }, /Map which is no longer supported/],
    [{ $foo: 1 }, /^Field name \$foo starts with a '\$', which is reserved\.$/],
    [{ $integer: 'AQAAAAAAAAA=', extra: 1 }, /^Field name \$integer starts with a '\$'/],
    [{ 'a b\u0001': 1 }, /invalid character/],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => jsonToConvex(json), { message }, JSON.stringify(json));
  }
});

test('valueToString prints values as the backend does in validation errors', () => {
  const cases: [Value | undefined, string][] = [
    [null, 'null'],
    [true, 'true'],
    [12, '12.0'],
    [-1.5, '-1.5'],
    [0.0001, '0.0001'],
    [0.00001, '1e-5'],
    [1e15, '1000000000000000.0'],
    [1e16, '1e16'],
    [1.5e300, '1.5e300'],
    [-0, '-0.0'],
    [NaN, 'NaN'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
    [5n, '5'],
    [-(2n ** 63n), '-9223372036854775808'],
    ['a"b\\c\n\t\r\0', '"a\\"b\\\\c\\n\\t\\r\\0"'],
    ["it's é😀", '"it\'s é😀"'],
    ['\u0001\u200b\u00a0', '"\\u{1}\\u{200b}\\u{a0}"'],
    [bytes(1, 2, 3), 'b"AQID"'],
    [[], '[]'],
    [[1, 'x', [null]], '[1.0, "x", [null]]'],
    [{}, '{}'],
    [{ b: 2n, a: { c: 1 }, u: undefined }, '{a: {c: 1.0}, b: 2}'],
    [undefined, 'undefined'],
  ];
  for (const [value, expected] of cases) assert.equal(valueToString(value), expected);
});

test('valueToString cuts enormous values at 16 KiB', () => {
  const text = valueToString(['x'.repeat(100_000)]);
  assert.equal(text.length, 16384 + '[...truncated]'.length);
  assert.ok(text.endsWith('[...truncated]'));
});

test('stringifyValueForError matches the package (used for ConvexError messages)', () => {
  // The package's copy is not exported; its ConvexError message is that function's output.
  // The last case puts a surrogate pair across the 16 KiB cut.
  for (const data of [{ a: 1n, b: [1, 'x'] }, [null], 5, ['x'.repeat(16_361) + '😀'.repeat(10)]]) {
    assert.equal(stringifyValueForError(data), new convex.ConvexError(data as convex.Value).message);
  }
  assert.equal(stringifyValueForError({ f: () => 1, u: undefined, n: 2n }), '{"f":"[Function]","u":"undefined","n":"2n"}');
  const long = stringifyValueForError(['😀'.repeat(20_000)]);
  assert.ok(long.endsWith('[...truncated]'));
  assert.ok(long.length <= 16384);
});
