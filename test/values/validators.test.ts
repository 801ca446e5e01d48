import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import * as convex from 'convex/values';
import {
  compileObjectValidator,
  compileValidator,
  explainMismatch,
  v,
  type GenericValidator,
  type Infer,
  type ObjectType,
} from '../../src/values/validators.js';
import { convexToJson, jsonToConvex, type JSONValue, type Value } from '../../src/values/value.js';

// ---------------------------------------------------------------------------
// Types. These lines are checked by `tsc -p tsconfig.json` (npm run
// typecheck), not at run time: a wrong inference is a compile error.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

const sampleArgs = {
  author: v.string(),
  count: v.optional(v.number()),
  id: v.id('users'),
  tags: v.array(v.string()),
  kind: v.union(v.literal('a'), v.literal('b')),
  meta: v.record(v.string(), v.int64()),
  blob: v.optional(v.bytes()),
  nothing: v.null(),
  flag: v.boolean(),
  nested: v.object({ inner: v.optional(v.float64()) }),
};
expectType<
  Equal<
    ObjectType<typeof sampleArgs>,
    {
      author: string;
      count?: number;
      id: string & { __tableName: 'users' };
      tags: string[];
      kind: 'a' | 'b';
      meta: Record<string, bigint>;
      blob?: ArrayBuffer;
      nothing: null;
      flag: boolean;
      nested: { inner?: number };
    }
  >
>();
expectType<Equal<Infer<typeof sampleArgs.count>, number | undefined>>();
expectType<Equal<Infer<ReturnType<typeof v.any>>, any>>();
expectType<Equal<(typeof sampleArgs.count)['isOptional'], 'optional'>>();

// ---------------------------------------------------------------------------

const enc = (value: Value) => convexToJson(value);

function failure(check: (e: JSONValue) => { ok: boolean; message?: string }, encoded: JSONValue): string {
  const result = check(encoded);
  assert.equal(result.ok, false, `expected ${JSON.stringify(encoded)} to fail`);
  return (result as { message: string }).message;
}

test('validators print as Convex prints them in messages', () => {
  const cases: [GenericValidator, string][] = [
    [v.string(), 'v.string()'],
    [v.number(), 'v.float64()'],
    [v.float64(), 'v.float64()'],
    [v.bigint(), 'v.int64()'],
    [v.int64(), 'v.int64()'],
    [v.boolean(), 'v.boolean()'],
    [v.null(), 'v.null()'],
    [v.bytes(), 'v.bytes()'],
    [v.any(), 'v.any()'],
    [v.id('users'), 'v.id("users")'],
    [v.literal('a'), 'v.literal("a")'],
    [v.literal(1), 'v.literal(1.0)'],
    [v.literal(0.00001), 'v.literal(0.00001)'],
    [v.literal(1e-7), 'v.literal(1e-7)'],
    [v.literal(2.5e20), 'v.literal(2.5e20)'],
    [v.literal(5n), 'v.literal(<bigint>)'],
    [v.literal(false), 'v.literal(false)'],
    [v.array(v.bytes()), 'v.array(v.bytes())'],
    [v.record(v.string(), v.number()), 'v.record(v.string(), v.float64())'],
    [v.union(v.string(), v.null()), 'v.union(v.string(), v.null())'],
    [v.object({ b: v.optional(v.number()), a: v.string() }), 'v.object({a: v.string(), b: v.optional(v.float64())})'],
    [v.object({}), 'v.object({})'],
    [v.optional(v.string()), 'v.optional(v.string())'],
  ];
  for (const [validator, text] of cases) assert.equal(String(validator), text);
});

test('validators expose the same fields as the convex package validators', () => {
  const pairs: [GenericValidator, convex.GenericValidator][] = [
    [v.id('t'), convex.v.id('t')],
    [v.optional(v.string()), convex.v.optional(convex.v.string())],
    [v.array(v.int64()), convex.v.array(convex.v.int64())],
    [v.record(v.string(), v.bytes()), convex.v.record(convex.v.string(), convex.v.bytes())],
    [v.union(v.literal(1), v.null()), convex.v.union(convex.v.literal(1), convex.v.null())],
    [v.object({ a: v.any() }), convex.v.object({ a: convex.v.any() })],
  ];
  const shape = (x: unknown): unknown => {
    if (typeof x !== 'object' || x === null) return x;
    if (Array.isArray(x)) return x.map(shape);
    const o = x as Record<string, unknown>;
    return Object.fromEntries(
      ['kind', 'isOptional', 'tableName', 'value', 'element', 'key', 'fields', 'members']
        .filter((k) => k in o)
        .map((k) => [k, k === 'fields' ? Object.fromEntries(Object.entries(o[k] as object).map(([f, fv]) => [f, shape(fv)])) : shape(o[k])]),
    );
  };
  for (const [ours, theirs] of pairs) assert.deepStrictEqual(shape(ours), shape(theirs), String(ours));
});

test('validators from the convex package compile and check the same way', () => {
  const check = compileObjectValidator({ author: convex.v.string(), n: convex.v.optional(convex.v.int64()) } as never);
  assert.deepEqual(check({ author: 'a', n: enc(1n) }), { ok: true });
  assert.equal(
    failure(check, { author: 1 }),
    'ArgumentValidationError: Value does not match validator.\nPath: .author\nValue: 1.0\nValidator: v.string()',
  );
});

test('a missing required field is reported as Convex reports it', () => {
  const check = compileObjectValidator({ author: v.string() });
  assert.equal(
    failure(check, {}),
    'ArgumentValidationError: Object is missing the required field `author`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: v.object({author: v.string()})',
  );
});

test('an extra field is reported as Convex reports it', () => {
  const check = compileObjectValidator({ author: v.string() });
  assert.equal(
    failure(check, { author: 'a', x: 1 }),
    'ArgumentValidationError: Object contains extra field `x` that is not in the validator.\n\nObject: {author: "a", x: 1.0}\nValidator: v.object({author: v.string()})',
  );
});

test('a wrong type names the path, the value and the expected validator', () => {
  const check = compileObjectValidator({ author: v.string() });
  assert.equal(
    failure(check, { author: 12 }),
    'ArgumentValidationError: Value does not match validator.\nPath: .author\nValue: 12.0\nValidator: v.string()',
  );
});

test('paths go through nested objects, arrays, records and optional fields', () => {
  const check = compileObjectValidator({
    user: v.object({ name: v.string(), tags: v.optional(v.array(v.string())) }),
    scores: v.optional(v.record(v.string(), v.number())),
    keyed: v.optional(v.record(v.union(v.literal('a'), v.literal('b')), v.null())),
  });
  const at = (encoded: JSONValue) => failure(check, encoded).split('\n')[1];
  assert.equal(at({ user: { name: 1 } }), 'Path: .user.name');
  assert.equal(at({ user: { name: 'x', tags: ['a', 2] } }), 'Path: .user.tags[1]');
  assert.equal(at({ user: { name: 'x' }, scores: { a: 'x' } }), 'Path: .scores.values()');
  assert.equal(at({ user: { name: 'x' }, keyed: { c: null } }), 'Path: .keyed.keys()');
  assert.equal(
    failure(check, { user: {} }),
    'ArgumentValidationError: Object is missing the required field `name`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\nPath: .user\nObject: {}\nValidator: v.object({name: v.string(), tags: v.optional(v.array(v.string()))})',
  );
  // An optional field's own validator is named, not v.optional(...).
  assert.equal(failure(check, { user: { name: 'x', tags: 5 } }).split('\n')[3], 'Validator: v.array(v.string())');
});

test('the first problem reported follows Convex: fields by name, present before missing, missing before extra', () => {
  const check = compileObjectValidator({ b: v.string(), a: v.string() });
  assert.match(failure(check, {}), /required field `a`/);
  assert.match(failure(check, { b: 1 }), /required field `a`/);
  assert.match(failure(check, { a: 1 }), /Path: \.a\n/);
  assert.match(failure(check, { a: 'x', z: 1, y: 2 }), /required field `b`/);
  assert.match(failure(check, { a: 'x', b: 'y', z: 1, y: 2 }), /extra field `y`/);
});

test('a union names itself, not its members; a one-member union is its member', () => {
  const check = compileObjectValidator({ value: v.union(v.string(), v.number()), one: v.optional(v.union(v.literal('x'))) });
  assert.equal(
    failure(check, { value: true }),
    'ArgumentValidationError: Value does not match validator.\nPath: .value\nValue: true\nValidator: v.union(v.string(), v.float64())',
  );
  assert.deepEqual(check({ value: 1 }), { ok: true });
  assert.deepEqual(check({ value: 's' }), { ok: true });
  assert.equal(failure(check, { value: 's', one: 'y' }), 'ArgumentValidationError: `"y"` does not match literal validator `v.literal("x")`.Path: .one');
  assert.equal(compileValidator(v.union())(null).ok, false);
});

test('a literal mismatch uses the literal message, as Convex', () => {
  const check = compileObjectValidator({ kind: v.literal('a'), n: v.optional(v.literal(2n)), f: v.optional(v.literal(-0)) });
  assert.equal(failure(check, { kind: 'b' }), 'ArgumentValidationError: `"b"` does not match literal validator `v.literal("a")`.Path: .kind');
  assert.deepEqual(check({ kind: 'a', n: enc(2n), f: enc(-0) }), { ok: true });
  assert.match(failure(check, { kind: 'a', n: enc(3n) }), /^ArgumentValidationError: `3` does not match literal validator `v.literal\(<bigint>\)`/);
  assert.match(failure(check, { kind: 'a', f: 0 }), /`0.0` does not match literal validator `v.literal\(-0.0\)`/);
});

test('int64, bytes and float64 accept only their encoded forms', () => {
  const check = compileObjectValidator({
    n: v.optional(v.int64()),
    b: v.optional(v.bytes()),
    f: v.optional(v.float64()),
  });
  const good: JSONValue[] = [{ n: enc(1n) }, { n: enc(-(2n ** 63n)) }, { b: enc(new ArrayBuffer(0)) }, { b: enc(Uint8Array.of(1, 2, 3).buffer) }, { f: 1.5 }, { f: enc(NaN) }, { f: enc(-Infinity) }, { f: enc(-0) }];
  for (const ok of good) {
    assert.deepEqual(check(ok), { ok: true }, JSON.stringify(ok));
  }
  const bad: JSONValue[] = [
    { n: 1 },
    { n: { $integer: 'AQ==' } },
    { n: { $integer: 5 } },
    { n: { $integer: 'AQAAAAAAAAA=', x: 1 } },
    { b: 'AQID' },
    { b: { $bytes: 'abc' } },
    { f: '1' },
    { f: { $float: 'AAAAAAAA8D8=' } }, // 1.0 must be a plain number
    { f: enc(1n) },
  ];
  for (const encoded of bad) assert.equal(check(encoded).ok, false, JSON.stringify(encoded));
  assert.equal(failure(check, { n: 1 }), 'ArgumentValidationError: Value does not match validator.\nPath: .n\nValue: 1.0\nValidator: v.int64()');
});

test('v.id checks the table through isIdOfTable, and accepts any string without it', () => {
  const isIdOfTable = (table: string, id: string) => id.startsWith(`${table}:`);
  const strict = compileObjectValidator({ id: v.id('users') }, { isIdOfTable });
  assert.deepEqual(strict({ id: 'users:1' }), { ok: true });
  assert.equal(
    failure(strict, { id: 'posts:1' }),
    'ArgumentValidationError: Value does not match validator.\nPath: .id\nValue: "posts:1"\nValidator: v.id("users")',
  );
  const loose = compileObjectValidator({ id: v.id('users') });
  assert.deepEqual(loose({ id: 'posts:1' }), { ok: true });
  assert.equal(loose({ id: 1 }).ok, false);
  // Record keys are checked too.
  const keyed = compileObjectValidator({ r: v.record(v.id('users'), v.boolean()) }, { isIdOfTable });
  assert.deepEqual(keyed({ r: { 'users:1': true } }), { ok: true });
  assert.match(failure(keyed, { r: { 'posts:1': true } }), /Path: \.r\.keys\(\)/);
});

test('records refuse $-prefixed keys, so an encoded int64 is not a record', () => {
  const check = compileObjectValidator({ r: v.record(v.string(), v.any()) });
  assert.deepEqual(check({ r: { a: 1, b: { $integer: 'AQAAAAAAAAA=' } } }), { ok: true });
  assert.equal(
    failure(check, { r: { $integer: 'AQAAAAAAAAA=' } }),
    'ArgumentValidationError: Value does not match validator.\nPath: .r\nValue: 1\nValidator: v.record(v.string(), v.any())',
  );
});

test('arguments that are not an object get Convex\'s "Expected to receive an object" message', () => {
  const check = compileObjectValidator({ a: v.optional(v.string()) });
  const expected = (shown: string) =>
    `ArgumentValidationError: Expected to receive an object as the function's argument. Instead received: ${shown}`;
  assert.equal(failure(check, 5), expected('5.0'));
  assert.equal(failure(check, null), expected('null'));
  assert.equal(failure(check, []), expected('[]'));
  assert.equal(failure(check, enc(1n)), expected('1'));
  // Also when the validator itself would accept anything.
  assert.equal(failure(compileObjectValidator(v.any()), 'x'), expected('"x"'));
  assert.deepEqual(compileObjectValidator(v.any())({ anything: [1] }), { ok: true });
});

test('a union of objects can be the arguments validator', () => {
  const check = compileObjectValidator(
    v.union(v.object({ kind: v.literal('a') }), v.object({ kind: v.literal('b'), x: v.number() })),
  );
  assert.deepEqual(check({ kind: 'a' }), { ok: true });
  assert.deepEqual(check({ kind: 'b', x: 1 }), { ok: true });
  assert.equal(
    failure(check, { kind: 'b' }),
    'ArgumentValidationError: Value does not match validator.\n\nValue: {kind: "b"}\nValidator: v.union(v.object({kind: v.literal("a")}), v.object({kind: v.literal("b"), x: v.float64()}))',
  );
});

test('the prefix can be replaced for document checks, and compileValidator has none', () => {
  const doc = compileObjectValidator({ name: v.string() }, { errorPrefix: 'Document failed validation: ' });
  assert.equal(
    failure(doc, { name: 'a', nick: 'b' }).split('\n')[0],
    'Document failed validation: Object contains extra field `nick` that is not in the validator.',
  );
  const plain = compileValidator(v.object({ name: v.string() }));
  assert.equal(failure(plain, { name: 1 }), 'Value does not match validator.\nPath: .name\nValue: 1.0\nValidator: v.string()');
  assert.equal(failure(compileValidator(v.string()), 1), 'Value does not match validator.\n\nValue: 1.0\nValidator: v.string()');
});

test('building an invalid validator fails at once with a clear message', () => {
  assert.throws(() => v.object({ a: undefined as never }), {
    message: 'A validator is undefined for field "a" in v.object(). This is often caused by circular imports. See https://docs.convex.dev/error#undefined-validator for details.',
  });
  assert.throws(() => v.object({ a: 'x' as never }), { message: 'v.object() entries must be validators' });
  assert.throws(() => v.object({ $a: v.string() }), { message: "Field name $a starts with a '$', which is reserved." });
  assert.throws(() => v.array(undefined as never), { message: /A validator is undefined in v\.array\(\)/ });
  assert.throws(() => v.array(v.optional(v.string()) as never), { message: /v\.array\(\) cannot contain v\.optional/ });
  assert.throws(() => v.union(v.string(), undefined as never), { message: /for field "member at index 1" in v\.union\(\)/ });
  assert.throws(() => v.record(v.number() as never, v.string()), { message: /^Record keys must be strings/ });
  assert.throws(() => v.record(v.string(), v.optional(v.string()) as never), { message: 'Record validator cannot have optional values' });
  assert.throws(() => v.literal({} as never), { message: 'v.literal(value) must be a string, number, or boolean' });
  assert.throws(() => v.literal(2n ** 64n), { message: /does not fit into a 64-bit signed integer/ });
  assert.throws(() => v.id(5 as never), { message: 'v.id(tableName) requires a string' });
});

test('json is a frozen draft-07 schema of the encoded form', () => {
  const validator = v.object({ n: v.int64(), id: v.id('users'), tags: v.optional(v.array(v.string())) });
  const schema = validator.json;
  assert.equal(schema, validator.json);
  assert.ok(Object.isFrozen(schema));
  assert.deepStrictEqual(schema, {
    type: 'object',
    properties: {
      n: { type: 'object', properties: { $integer: { type: 'string', pattern: '^[A-Za-z0-9+/_-]{11}=$' } }, required: ['$integer'], additionalProperties: false },
      id: { type: 'string', convexId: 'users' },
      tags: { type: 'array', items: { type: 'string' } },
    },
    required: ['n', 'id'],
    additionalProperties: false,
  });
  const ajv = new Ajv({ strict: true });
  ajv.addKeyword({ keyword: 'convexId', type: 'string', schemaType: 'string' });
  assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors));
});

// ---------------------------------------------------------------------------
// The compiled (ajv) check and the message walk must agree on every input,
// and a value the compiled check accepts must decode.

function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the special-float pattern accepts exactly the $float encodings jsonToConvex accepts', () => {
  const random = rng(7);
  const check = compileValidator(v.float64());
  const specials = [NaN, Infinity, -Infinity, -0];
  const samples: Uint8Array[] = [];
  for (const f of specials) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, f, true);
    samples.push(b);
  }
  for (let i = 0; i < 4000; i++) {
    const b = new Uint8Array(8);
    for (let j = 0; j < 8; j++) b[j] = Math.floor(random() * 256);
    // Bias half the samples toward all-ones exponents and near -0.
    if (i % 2) {
      b[7] = (random() < 0.5 ? 0x7f : 0xff) ^ (random() < 0.2 ? 1 : 0);
      b[6]! |= random() < 0.8 ? 0xf0 : 0xe0;
    }
    if (i % 7 === 0) b.fill(0, 0, 7), (b[7] = random() < 0.5 ? 0x80 : 0x81);
    samples.push(b);
  }
  for (const b of samples) {
    const standard = Buffer.from(b).toString('base64');
    const variants = [standard, standard.replace(/\+/g, '-').replace(/\//g, '_')];
    // The last character before '=' carries two unused bits the decoder ignores.
    const last = standard[10]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    variants.push(standard.slice(0, 10) + alphabet[alphabet.indexOf(last) | 3]! + '=');
    for (const text of variants) {
      let decodes = true;
      try {
        jsonToConvex({ $float: text });
      } catch {
        decodes = false;
      }
      assert.equal(check({ $float: text }).ok, decodes, text);
    }
  }
});

function randomValidator(random: () => number, depth = 0): GenericValidator {
  const leaves = [
    () => v.string(),
    () => v.number(),
    () => v.int64(),
    () => v.boolean(),
    () => v.null(),
    () => v.bytes(),
    () => v.any(),
    () => v.id(random() < 0.5 ? 'users' : 'posts'),
    () => v.literal(['a', 1, 2n, true, -0, NaN][Math.floor(random() * 6)]!),
  ];
  const branches = [
    () => v.array(randomValidator(random, depth + 1) as never),
    () => v.record(random() < 0.5 ? v.string() : v.union(v.literal('a'), v.literal('b')), randomValidator(random, depth + 1) as never),
    () => v.union(...Array.from({ length: Math.floor(random() * 3) + 1 }, () => randomValidator(random, depth + 1) as never)),
    () => {
      const fields: Record<string, GenericValidator> = {};
      for (const name of ['a', 'b', 'c'].slice(0, Math.floor(random() * 4))) {
        const inner = randomValidator(random, depth + 1);
        fields[name] = random() < 0.3 ? v.optional(inner) : inner;
      }
      return v.object(fields);
    },
  ];
  const pool = depth >= 3 || random() < 0.4 ? leaves : branches;
  return pool[Math.floor(random() * pool.length)]!();
}

function sampleFor(validator: GenericValidator, random: () => number): Value {
  switch (validator.kind) {
    case 'string':
      return random() < 0.5 ? 'a' : '';
    case 'float64':
      return [1.5, NaN, -0, Infinity][Math.floor(random() * 4)]!;
    case 'int64':
      return BigInt(Math.floor(random() * 100) - 50);
    case 'boolean':
      return random() < 0.5;
    case 'null':
      return null;
    case 'bytes':
      return Uint8Array.of(0, 255).buffer;
    case 'any':
      return randomValue(random, 2);
    case 'id':
      return `${validator.tableName}:1`;
    case 'literal':
      return validator.value as Value;
    case 'array':
      return Array.from({ length: Math.floor(random() * 3) }, () => sampleFor(validator.element, random));
    case 'record':
      return { a: sampleFor(validator.value, random) };
    case 'union':
      return validator.members.length ? sampleFor(validator.members[Math.floor(random() * validator.members.length)], random) : null;
    case 'object': {
      const out: Record<string, Value> = {};
      for (const [k, f] of Object.entries(validator.fields as Record<string, GenericValidator>)) {
        if (f.isOptional === 'required' || random() < 0.5) out[k] = sampleFor(f, random);
      }
      return out;
    }
  }
}

function randomValue(random: () => number, depth = 0): Value {
  const r = Math.floor(random() * (depth > 2 ? 7 : 9));
  switch (r) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return [0, -0, 1.5, NaN, -Infinity][Math.floor(random() * 5)]!;
    case 3:
      return BigInt(Math.floor(random() * 10));
    case 4:
      return ['', 'a', 'users:1', 'posts:2'][Math.floor(random() * 4)]!;
    case 5:
      return Uint8Array.of(1).buffer;
    case 6:
      return 'b';
    case 7:
      return Array.from({ length: Math.floor(random() * 3) }, () => randomValue(random, depth + 1));
    default: {
      const out: Record<string, Value> = {};
      for (const k of ['a', 'b', 'c', 'd']) if (random() < 0.4) out[k] = randomValue(random, depth + 1);
      return out;
    }
  }
}

// Nudge a valid encoding into a near miss: drop, add or retype one part.
function mutate(json: JSONValue, random: () => number): JSONValue {
  const r = random();
  if (Array.isArray(json)) {
    if (json.length === 0 || r < 0.3) return [...json, 'x'];
    const i = Math.floor(random() * json.length);
    return json.map((item, j) => (j === i ? mutate(item, random) : item));
  }
  if (json !== null && typeof json === 'object') {
    const keys = Object.keys(json);
    if (keys.length === 0 || r < 0.25) return { ...json, c: 1 };
    const k = keys[Math.floor(random() * keys.length)]!;
    if (r < 0.5) {
      const { [k]: _dropped, ...rest } = json;
      return rest;
    }
    return { ...json, [k]: mutate(json[k]!, random) };
  }
  const malformed: JSONValue[] = [1, 'x', null, true, { $integer: 5 }, { $float: 'AAAAAAAA8D8=' }, { $bytes: 'abc' }, { $x: 1 }];
  return malformed[Math.floor(random() * malformed.length)]!;
}

function containsAny(validator: GenericValidator): boolean {
  switch (validator.kind) {
    case 'any':
      return true;
    case 'array':
      return containsAny(validator.element);
    case 'record':
      return containsAny(validator.value);
    case 'union':
      return (validator.members as GenericValidator[]).some(containsAny);
    case 'object':
      return Object.values(validator.fields as Record<string, GenericValidator>).some(containsAny);
    default:
      return false;
  }
}

test('compiled checks and explainMismatch agree on random validators and near-miss values', () => {
  const random = rng(42);
  const isIdOfTable = (table: string, id: string) => id.startsWith(`${table}:`);
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    const validator = randomValidator(random);
    const check = compileValidator(validator, { isIdOfTable });
    for (let j = 0; j < 12; j++) {
      const valid = convexToJson(sampleFor(validator, random));
      const inputs = [valid, mutate(valid, random), convexToJson(randomValue(random))];
      for (const encoded of inputs) {
        const result = check(encoded);
        const explanation = explainMismatch(validator, encoded, { isIdOfTable });
        const where = `${String(validator)} on ${JSON.stringify(encoded)}`;
        assert.equal(result.ok, explanation === null, where);
        if (result.ok) {
          accepted++;
          if (!containsAny(validator)) assert.doesNotThrow(() => jsonToConvex(encoded), where);
        } else {
          rejected++;
          assert.equal((result as { message: string }).message, explanation, where);
        }
      }
      assert.deepEqual(check(valid), { ok: true }, `${String(validator)} on its own sample ${JSON.stringify(valid)}`);
    }
  }
  // Both outcomes were exercised in earnest.
  assert.ok(accepted > 2000 && rejected > 2000, `accepted ${accepted}, rejected ${rejected}`);
});
