import type { Value } from '../values/value.js';
import { compareValues } from './keys.js';
import { fieldAt } from './index-keys.js';
import type { ExpressionOrValue, FilterBuilder } from './api-types.js';

// `.filter(q => q.and(q.eq(q.field('author'), 'ada'), q.gt(q.field('likes'), 3)))`
// builds a small expression tree once per query, evaluated per document.
// Comparisons use Convex's total order over values (the index order).

type Evaluate = (document: Record<string, Value>) => Value | undefined;

const EXPRESSION = Symbol('portico.expression');

interface Expression {
  readonly [EXPRESSION]: Evaluate;
}

function expression(evaluate: Evaluate): Expression {
  return { [EXPRESSION]: evaluate } as Expression;
}

function toEvaluate(input: ExpressionOrValue | unknown): Evaluate {
  if (typeof input === 'object' && input !== null && EXPRESSION in input) return (input as Expression)[EXPRESSION];
  const constant = input as Value;
  return () => constant;
}

function arithmetic(name: string, a: unknown, b: unknown, op: (x: any, y: any) => any): Expression {
  const left = toEvaluate(a);
  const right = toEvaluate(b);
  return expression((doc) => {
    const x = left(doc);
    const y = right(doc);
    if (typeof x === 'number' && typeof y === 'number') return op(x, y);
    if (typeof x === 'bigint' && typeof y === 'bigint') return op(x, y);
    throw new Error(`q.${name}() needs two numbers or two bigints, got ${typeof x} and ${typeof y}`);
  });
}

const builder: FilterBuilder = {
  field: (path: string) => expression((doc) => fieldAt(doc, path)) as any,
  eq: (a, b) => compare(a, b, (c) => c === 0),
  neq: (a, b) => compare(a, b, (c) => c !== 0),
  lt: (a, b) => compare(a, b, (c) => c < 0),
  lte: (a, b) => compare(a, b, (c) => c <= 0),
  gt: (a, b) => compare(a, b, (c) => c > 0),
  gte: (a, b) => compare(a, b, (c) => c >= 0),
  and: (...parts) => {
    const evaluations = parts.map(toEvaluate);
    return expression((doc) => evaluations.every((evaluate) => evaluate(doc) === true)) as any;
  },
  or: (...parts) => {
    const evaluations = parts.map(toEvaluate);
    return expression((doc) => evaluations.some((evaluate) => evaluate(doc) === true)) as any;
  },
  not: (part) => {
    const evaluate = toEvaluate(part);
    return expression((doc) => evaluate(doc) !== true) as any;
  },
  add: (a, b) => arithmetic('add', a, b, (x, y) => x + y) as any,
  sub: (a, b) => arithmetic('sub', a, b, (x, y) => x - y) as any,
  mul: (a, b) => arithmetic('mul', a, b, (x, y) => x * y) as any,
  div: (a, b) => arithmetic('div', a, b, (x, y) => x / y) as any,
  mod: (a, b) => arithmetic('mod', a, b, (x, y) => x % y) as any,
  neg: (a) => {
    const evaluate = toEvaluate(a);
    return expression((doc) => {
      const x = evaluate(doc);
      if (typeof x === 'number' || typeof x === 'bigint') return -x;
      throw new Error(`q.neg() needs a number or a bigint, got ${typeof x}`);
    }) as any;
  },
};

function compare(a: unknown, b: unknown, test: (comparison: number) => boolean) {
  const left = toEvaluate(a);
  const right = toEvaluate(b);
  return expression((doc) => test(compareValues(left(doc), right(doc)))) as any;
}

/** Compiles a `.filter()` callback into a document predicate. */
export function compileFilter(predicate: (q: FilterBuilder) => ExpressionOrValue<boolean>): (document: Record<string, Value>) => boolean {
  const evaluate = toEvaluate(predicate(builder));
  return (document) => evaluate(document) === true;
}
