import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as convex from 'convex/values';
import { ConvexError, isConvexError } from '../../src/values/errors.js';
import type { Value } from '../../src/values/value.js';

test('ConvexError carries its data and reads like the convex package', () => {
  const cases: Value[] = ['not found', { code: 'NOT_FOUND', id: 7n }, [1, null], 3];
  for (const data of cases) {
    const ours = new ConvexError(data);
    const theirs = new convex.ConvexError(data as convex.Value);
    assert.equal(ours.message, theirs.message);
    assert.equal(ours.name, 'ConvexError');
    assert.equal(ours.data, data);
    assert.ok(ours instanceof Error);
  }
});

test('isConvexError recognises this class, the convex package class and other copies', () => {
  assert.equal(isConvexError(new ConvexError('x')), true);
  assert.equal(isConvexError(new convex.ConvexError({ a: 1 })), true);
  // What a second copy of this module produces: only the global symbol in common.
  const copy = Object.assign(new Error('x'), { data: 1, [Symbol.for('ConvexError')]: true });
  assert.equal(isConvexError(copy), true);
});

test('isConvexError rejects ordinary errors and non-errors', () => {
  for (const value of [new Error('x'), Object.assign(new Error('x'), { name: 'ConvexError', data: 1 }), null, undefined, 'ConvexError', {}]) {
    assert.equal(isConvexError(value), false, String(value));
  }
  assert.equal(isConvexError({ [Symbol('ConvexError')]: true }), false);
});
