import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileValidator, explainMismatch, v, type GenericValidator } from '../../src/values/validators.js';
import { describe, literalText, show } from '../../src/values/validator-text.js';
import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../../src/values/value.js';

// The explanation of a failed check is read from ajv's errors against the
// same schema that did the check (src/values/validator-explain.ts). These
// properties hold it to two things over generated validators and values: it
// exists exactly when the check fails, and it is the message Convex's own
// order gives, as written out by the reference walk below.

// ---------------------------------------------------------------------------
// A reference walk in Convex's order (the backend's `ValidationError`): the
// first mismatch with fields by sorted name, a missing field in its name's
// place and extra fields after all of them, record keys sorted with a key
// before its value, and a union naming itself. Leaf encodings are judged by
// the decoder (jsonToConvex), not by the schema's patterns.

const isIdOfTable = (table: string, id: string) => id.startsWith(`${table}:`);
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const pathLine = (path: string | undefined) => (path === undefined ? '' : `Path: ${path}`);
const isPlainObject = (x: JSONValue): x is { [key: string]: JSONValue } => typeof x === 'object' && x !== null && !Array.isArray(x);
const isFieldName = (key: string) => !key.startsWith('$') && key.length <= 1024 && /^[\x20-\x7e]*$/.test(key);
const isConvexObject = (x: JSONValue): x is { [key: string]: JSONValue } => isPlainObject(x) && Object.keys(x).every(isFieldName);

function decodesAs(encoded: JSONValue, tag: string, is: (value: Value) => boolean): boolean {
  if (!isPlainObject(encoded) || Object.keys(encoded).join() !== tag) return false;
  try {
    return is(jsonToConvex(encoded));
  } catch {
    return false;
  }
}

function reference(val: GenericValidator, encoded: JSONValue, path?: string): string | null {
  const fail = () => `Value does not match validator.\n${pathLine(path)}\nValue: ${show(encoded)}\nValidator: ${describe(val)}`;
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
      return typeof encoded === 'string' && isIdOfTable(val.tableName, encoded) ? null : fail();
    case 'float64':
      return typeof encoded === 'number' || decodesAs(encoded, '$float', (x) => typeof x === 'number') ? null : fail();
    case 'int64':
      return decodesAs(encoded, '$integer', (x) => typeof x === 'bigint') ? null : fail();
    case 'bytes':
      return decodesAs(encoded, '$bytes', (x) => x instanceof ArrayBuffer) ? null : fail();
    case 'literal':
      if (JSON.stringify(encoded) === JSON.stringify(convexToJson(val.value as Value))) return null;
      return `\`${show(encoded)}\` does not match literal validator \`v.literal(${literalText(val.value)})\`.${pathLine(path)}`;
    case 'array': {
      if (!Array.isArray(encoded)) return fail();
      for (let i = 0; i < encoded.length; i++) {
        const issue = reference(val.element, encoded[i]!, at(`[${i}]`));
        if (issue !== null) return issue;
      }
      return null;
    }
    case 'record': {
      if (!isConvexObject(encoded)) return fail();
      for (const key of Object.keys(encoded).sort(byName)) {
        const issue = reference(val.key, key, at('.keys()')) ?? reference(val.value, encoded[key]!, at('.values()'));
        if (issue !== null) return issue;
      }
      return null;
    }
    case 'object': {
      if (!isConvexObject(encoded)) return fail();
      const fields = val.fields as Record<string, GenericValidator>;
      const tail = `\n${pathLine(path)}\nObject: ${show(encoded)}\nValidator: ${describe(val)}`;
      for (const name of Object.keys(fields).sort(byName)) {
        if (Object.hasOwn(encoded, name)) {
          const issue = reference(fields[name]!, encoded[name]!, at(`.${name}`));
          if (issue !== null) return issue;
        } else if (fields[name]!.isOptional !== 'optional') {
          return `Object is missing the required field \`${name}\`. Consider wrapping the field validator in \`v.optional(...)\` if this is expected.${tail}`;
        }
      }
      const extra = Object.keys(encoded).sort(byName).find((name) => !Object.hasOwn(fields, name));
      return extra === undefined ? null : `Object contains extra field \`${extra}\` that is not in the validator.${tail}`;
    }
    case 'union': {
      const members = val.members as GenericValidator[];
      if (members.length === 1) return reference(members[0]!, encoded, path);
      return members.some((m) => reference(m, encoded, path) === null) ? null : fail();
    }
  }
}

// ---------------------------------------------------------------------------
// Generators: validators of every kind, values that match them, near misses
// of those, and values (and malformed encodings) of any shape.

const FIELD_NAMES = ['a', 'b', 'c', 'a b', 'x/y'];

const leafValidator: fc.Arbitrary<GenericValidator> = fc.oneof(
  fc.constantFrom(v.string(), v.number(), v.int64(), v.boolean(), v.null(), v.bytes(), v.any()),
  fc.constantFrom('users', 'posts').map((table) => v.id(table)),
  fc.constantFrom<string | number | bigint | boolean>('a', 'x/y', 1, 2.5, 2n, true, -0, NaN).map((value) => v.literal(value)),
);

const { validator: anyValidator } = fc.letrec<{ validator: GenericValidator }>((tie) => ({
  validator: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafValidator,
    tie('validator').map((element) => v.array(element as never)),
    fc
      .tuple(fc.constantFrom(v.string(), v.id('users'), v.literal('a'), v.union(v.literal('a'), v.literal('b'))), tie('validator'))
      .map(([key, value]) => v.record(key as never, value as never)),
    fc.array(tie('validator'), { maxLength: 3 }).map((members) => v.union(...(members as never[]))),
    fc
      .uniqueArray(fc.tuple(fc.constantFrom(...FIELD_NAMES), tie('validator'), fc.boolean()), { selector: ([name]) => name, maxLength: 4 })
      .map((fields) => v.object(Object.fromEntries(fields.map(([name, field, optional]) => [name, optional ? v.optional(field) : field])))),
  ),
}));

function matching(val: GenericValidator): fc.Arbitrary<Value> {
  switch (val.kind) {
    case 'string':
      return fc.constantFrom('', 'a', 'users:1');
    case 'float64':
      return fc.constantFrom(0, 1.5, NaN, -0, Infinity, -Infinity);
    case 'int64':
      return fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'bytes':
      return fc.uint8Array({ maxLength: 5 }).map((b) => b.slice().buffer as ArrayBuffer);
    case 'any':
      return anyValue;
    case 'id':
      return fc.constant(`${val.tableName}:1`);
    case 'literal':
      return fc.constant(val.value as Value);
    case 'array':
      return fc.array(matching(val.element), { maxLength: 3 });
    case 'record':
      return fc.dictionary(matching(val.key) as fc.Arbitrary<string>, matching(val.value), { maxKeys: 3 });
    case 'union':
      return val.members.length === 0 ? fc.constant(null) : fc.oneof(...(val.members as GenericValidator[]).map(matching));
    case 'object': {
      const fields = Object.entries(val.fields as Record<string, GenericValidator>);
      const parts = fields.map(([name, field]) => matching(field).map((value) => [name, value] as const));
      return fc.tuple(...parts, fc.array(fc.boolean(), { minLength: fields.length, maxLength: fields.length })).map((all) => {
        const present = all.pop() as boolean[];
        const entries = (all as (readonly [string, Value])[]).filter(([name], i) => fields[i]![1].isOptional === 'required' || present[i]);
        return Object.fromEntries(entries);
      });
    }
  }
}

const { value: anyValue } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Value>(null, true, false, 0, -0, 1.5, NaN, -Infinity, 3n, '', 'a', 'b', 'users:1', 'posts:2'),
    fc.constant(Uint8Array.of(1).buffer as Value),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...FIELD_NAMES, 'd'), tie('value'), { maxKeys: 4 }),
  ),
}));

const MALFORMED: JSONValue[] = [{ $integer: 5 }, { $integer: 'AQ==' }, { $float: 'AAAAAAAA8D8=' }, { $bytes: 'abc' }, { $x: 1 }, { a: 1, $b: 2 }, { 'tab\t': 1 }];

/** One edit at a random place: drop or add a field, add an element, or swap a leaf for something else. */
function mutate(json: JSONValue, choices: number[]): JSONValue {
  const next = () => choices.shift() ?? 0;
  if (Array.isArray(json)) {
    if (json.length === 0 || next() % 3 === 0) return [...json, 'x'];
    const i = next() % json.length;
    return json.map((item, j) => (j === i ? mutate(item, choices) : item));
  }
  if (isPlainObject(json) && Object.keys(json).every(isFieldName)) {
    const keys = Object.keys(json);
    const r = next() % 4;
    if (keys.length === 0 || r === 0) return { ...json, [FIELD_NAMES[next() % FIELD_NAMES.length]!]: 1 };
    const k = keys[next() % keys.length]!;
    if (r === 1) return Object.fromEntries(Object.entries(json).filter(([name]) => name !== k));
    return { ...json, [k]: mutate(json[k]!, choices) };
  }
  const others: JSONValue[] = [1, 'x', 'posts:1', null, true, [], {}, ...MALFORMED];
  return others[next() % others.length]!;
}

const encodedFor = (val: GenericValidator): fc.Arbitrary<JSONValue> =>
  fc.oneof(
    matching(val).map((value) => convexToJson(value)),
    fc.tuple(matching(val), fc.array(fc.nat(), { minLength: 8, maxLength: 8 })).map(([value, choices]) => mutate(convexToJson(value), choices)),
    anyValue.map((value) => convexToJson(value)),
    fc.constantFrom(...MALFORMED),
  );

const cases = anyValidator.chain((val) => fc.tuple(fc.constant(val), fc.array(encodedFor(val), { minLength: 1, maxLength: 6 })));

// ---------------------------------------------------------------------------

test('the explanation exists exactly when the compiled check fails, and is its message', () => {
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(cases, ([val, inputs]) => {
      const check = compileValidator(val, { isIdOfTable });
      for (const encoded of inputs) {
        const result = check(encoded);
        const explanation = explainMismatch(val, encoded, { isIdOfTable });
        const where = `${String(val)} on ${JSON.stringify(encoded)}`;
        assert.equal(explanation === null, result.ok, where);
        if (result.ok) accepted++;
        else (rejected++, assert.equal(result.message, explanation, where));
      }
    }),
    { numRuns: 400, seed: 20261206 },
  );
  assert.ok(accepted > 300 && rejected > 300, `accepted ${accepted}, rejected ${rejected}`);
});

test("the explanation read from ajv's errors is the first problem in Convex's order", () => {
  fc.assert(
    fc.property(cases, ([val, inputs]) => {
      for (const encoded of inputs) {
        assert.equal(explainMismatch(val, encoded, { isIdOfTable }), reference(val, encoded), `${String(val)} on ${JSON.stringify(encoded)}`);
      }
    }),
    { numRuns: 400, seed: 7 },
  );
});

test('a value with problems at several places reports the one Convex meets first', () => {
  const val = v.object({
    b: v.array(v.int64()),
    a: v.record(v.union(v.literal('k'), v.literal('l')), v.string()),
    c: v.optional(v.union(v.string(), v.null())),
  });
  const at = (encoded: JSONValue) => explainMismatch(val, encoded)!.split('\n')[1];
  // A bad key before its own bad value, and both before the later field b.
  assert.equal(at({ a: { z: 1 }, b: [1] }), 'Path: .a.keys()');
  assert.equal(at({ a: { k: 1, z: 's' }, b: [1] }), 'Path: .a.values()');
  // The first bad element, not the last.
  assert.equal(at({ a: {}, b: [convexToJson(1n), 2, 'x'] }), 'Path: .b[1]');
  // A union failing inside reports the union, at its own path.
  assert.equal(explainMismatch(val, { a: {}, b: [], c: 1 })!.split('\n')[3], 'Validator: v.union(v.string(), v.null())');
  // A $-key makes the field no object at all, whatever else is wrong in it.
  assert.equal(at({ a: { $k: 1, z: 2 }, b: [] }), 'Path: .a');
  assert.equal(explainMismatch(val, { a: {}, b: [] }), null);
});
