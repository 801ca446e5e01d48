import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import * as official from 'convex/values';
import { convexToJson, jsonToConvex, MAX_VALUE_NESTING, type JSONValue, type Value } from '../../src/values/value.js';
import { fuzz, SEED } from './settings.js';

// Every Convex value type, generated at random, through Portico's encoder
// and decoder and the official `convex` package's: the encodings are the
// same JSON, key order included (clients compare them as text), each side
// decodes what the other encoded, and a decode of an encode gives the value
// back. JSON that is not an encoding is refused by Portico wherever the
// package refuses it too (Portico is stricter about stray base64 characters,
// never looser).

/** Field names both sides accept: printable ASCII, no leading `$`. `__proto__` is tested apart (the package drops it). */
const fieldName = fc
  .string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 })
  .filter((name) => !name.startsWith('$') && name !== '__proto__');

const leaf: fc.Arbitrary<Value> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  // Every float, NaN, ±Infinity and -0 among them.
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  // Lone surrogates and control characters are valid in a Convex string.
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => bytes.slice().buffer as ArrayBuffer),
);

const value: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fieldName, tie('value'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).value;

/** A value for the official package's types (it declares its own Value). */
const asOfficial = (v: Value) => v as official.Value;

test(`every Convex value encodes exactly as the convex package encodes it, and both decode it back (seed ${SEED})`, async () => {
  await fuzz(
    fc.property(value, (v) => {
      const ours = convexToJson(v);
      const theirs = official.convexToJson(asOfficial(v));
      // Same text: same keys in the same order, same tags, same base64.
      assert.equal(JSON.stringify(ours), JSON.stringify(theirs));
      // Over the wire (text and back), each decoder gives the value back.
      const wire = JSON.parse(JSON.stringify(ours)) as JSONValue;
      assert.deepStrictEqual(jsonToConvex(wire), v);
      assert.deepStrictEqual(official.jsonToConvex(wire as official.JSONValue), v);
      assert.deepStrictEqual(jsonToConvex(theirs as JSONValue), official.jsonToConvex(ours as official.JSONValue));
    }),
    1000,
  );
});

/** JSON that may or may not encode a value: tagged objects with any payload, `$`-keys, odd base64. */
const maybeEncoding: fc.Arbitrary<JSONValue> = fc.letrec<{ json: JSONValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JSONValue>,
    fc
      .tuple(
        fc.constantFrom('$integer', '$bytes', '$float', '$set', '$map', '$foo'),
        fc.oneof(fc.base64String({ maxLength: 16 }), fc.string({ maxLength: 16 }), fc.integer(), fc.constant(null)) as fc.Arbitrary<JSONValue>,
      )
      .map(([key, payload]) => ({ [key]: payload })),
    fc.array(tie('json'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fieldName, fc.constantFrom('$x', 'a\u0000', '\u00e9')), tie('json'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).json;

test(`JSON Portico decodes, the convex package decodes to the same value (seed ${SEED})`, async () => {
  await fuzz(
    fc.property(maybeEncoding, (json) => {
      let ours: Value;
      try {
        ours = jsonToConvex(json);
      } catch (error) {
        assert.ok(error instanceof Error, 'refusals are Errors');
        return;
      }
      assert.deepStrictEqual(ours, official.jsonToConvex(json as official.JSONValue));
      assert.equal(JSON.stringify(convexToJson(ours)), JSON.stringify(official.convexToJson(asOfficial(ours))));
    }),
    1000,
  );
});

test('values nest up to 64 levels, as in Convex, and a deeper one is refused without recursing through it', () => {
  let ok: Value = 1;
  for (let i = 0; i < MAX_VALUE_NESTING; i++) ok = i % 2 ? [ok] : { a: ok };
  assert.deepStrictEqual(jsonToConvex(convexToJson(ok)), ok);
  const tooDeep = [ok];
  const message = 'Value is too nested (nested 65 levels deep > maximum nesting 64)';
  assert.throws(() => convexToJson(tooDeep), { message });
  assert.throws(() => jsonToConvex(JSON.parse(JSON.stringify(convexToJson(ok)).replace(/^/, '[').replace(/$/, ']'))), { message });
  // 100,000 levels: refused at level 65, not a stack overflow.
  const hundredThousand = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as JSONValue;
  assert.throws(() => jsonToConvex(hundredThousand), { message });
  // A tagged scalar at the deepest level is a scalar, not one more level.
  let tagged: JSONValue = { $integer: 'AQAAAAAAAAA=' };
  for (let i = 0; i < MAX_VALUE_NESTING; i++) tagged = [tagged];
  assert.doesNotThrow(() => jsonToConvex(tagged));
});

// Regression: `out[key] = value` with key "__proto__" set the decoded
// object's prototype instead of a field (the convex package still does).
test('a field named __proto__ round-trips as a field and never becomes a prototype', () => {
  const json = JSON.parse('{"__proto__":{"polluted":true},"b":1}') as JSONValue;
  const decoded = jsonToConvex(json) as Record<string, Value>;
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  assert.equal((decoded as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(Object.keys(decoded), ['__proto__', 'b']);
  assert.equal(JSON.stringify(convexToJson(decoded)), '{"__proto__":{"polluted":true},"b":1}');
});
