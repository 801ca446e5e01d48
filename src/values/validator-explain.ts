import type { ErrorObject } from 'ajv';
import type { JSONValue } from './value.js';
import type { ValidatorNode } from './validator-node.js';
import { isFieldName } from './validator-schema.js';
import { describe, literalText, show } from './validator-text.js';

// Explaining a failed check in Convex's words (the backend's
// `ValidationError` display), read from the errors ajv reports against the
// validator's JSON Schema, so the explanation follows the very rules that
// said no. Each error is traced from the schema root back to the validator
// node that owns the failing keyword; of all the errors, the one Convex would
// meet first wins: fields by sorted name, a missing field in its name's place
// and extra fields after all of them, record keys by sorted name with a key
// before its value, array elements in order, and a union (or any leaf, such
// as float64's own anyOf) reported as itself rather than its parts.

const MISSING_HINT = 'Consider wrapping the field validator in `v.optional(...)` if this is expected.';

/** Where an error sits in Convex's order: one rank per level, compared level by level. */
type Order = (readonly (string | number)[])[];

type Issue = { kind: 'mismatch' } | { kind: 'missing' | 'extra'; field: string };

interface Located {
  /** The validator that fails (an object's own node for a missing or extra field). */
  node: ValidatorNode;
  /** The encoded value that node was given. */
  value: JSONValue;
  /** Convex's path to it (`.user.tags[1]`, `.meta.keys()`), '' at the root. */
  path: string;
  order: Order;
  issue: Issue;
}

/** A one-member union checks (and reports) as its member: its schema is the member's. */
function unwrap(node: ValidatorNode): ValidatorNode {
  while (node.kind === 'union' && node.members.length === 1) node = node.members[0]!;
  return node;
}

const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Walks one ajv error from the schema root down its `schemaPath`, taking
 * element indices and field names from its `instancePath`, to the validator
 * node whose own keyword failed. Null for ajv's summary of a record key's
 * errors, which arrive on their own beside it.
 */
function locate(root: ValidatorNode, encoded: JSONValue, error: ErrorObject): Located | null {
  const schemaPath = error.schemaPath.split('/').slice(1);
  const instancePath = error.instancePath === '' ? [] : error.instancePath.split('/').slice(1).map(unescapePointer);
  let node = unwrap(root);
  let value = encoded;
  let path = '';
  const order: Order = [];
  let s = 0; // next schemaPath segment
  let i = 0; // next instancePath segment
  const found = (rank: readonly (string | number)[], issue: Issue): Located => ({ node, value, path, order: [...order, rank], issue });
  const mismatch = () => found([0], { kind: 'mismatch' });
  for (;;) {
    const keyword = schemaPath[s];
    if (node.kind === 'array' && keyword === 'items') {
      const index = Number(instancePath[i]);
      order.push([1, index]);
      path += `[${index}]`;
      value = (value as JSONValue[])[index]!;
      node = unwrap(node.element);
      s += 1;
      i += 1;
    } else if (node.kind === 'object' && keyword === 'properties') {
      const name = instancePath[i]!;
      order.push([1, name]);
      path += `.${name}`;
      value = (value as Record<string, JSONValue>)[name]!;
      node = unwrap(node.fields[name]!);
      s += 2;
      i += 1;
    } else if (node.kind === 'object' && keyword === 'required') {
      const field = String(error.params.missingProperty);
      return found([1, field], { kind: 'missing', field });
    } else if (node.kind === 'object' && keyword === 'additionalProperties') {
      // A key that cannot name a field makes the value something other than an object.
      const field = String(error.params.additionalProperty);
      return isFieldName(field) ? found([2, field], { kind: 'extra', field }) : mismatch();
    } else if (node.kind === 'record' && keyword === 'additionalProperties') {
      const key = instancePath[i]!;
      order.push([1, key, 1]);
      path += '.values()';
      value = (value as Record<string, JSONValue>)[key]!;
      node = unwrap(node.value);
      s += 1;
      i += 1;
    } else if (node.kind === 'record' && keyword === 'propertyNames') {
      if (s + 1 === schemaPath.length) return null;
      // allOf/0 is the field-name rule (failing it, the value is no object); allOf/1 the key validator.
      if (schemaPath[s + 2] !== '1') return mismatch();
      const key = error.propertyName!;
      order.push([1, key, 0]);
      path += '.keys()';
      value = key;
      node = unwrap(node.key);
      s += 3;
    } else {
      return mismatch();
    }
  }
}

function compareOrder(a: Order, b: Order): number {
  for (let level = 0; level < Math.min(a.length, b.length); level++) {
    const x = a[level]!;
    const y = b[level]!;
    for (let k = 0; k < Math.min(x.length, y.length); k++) {
      if (x[k]! < y[k]!) return -1;
      if (x[k]! > y[k]!) return 1;
    }
    if (x.length !== y.length) return x.length - y.length;
  }
  return a.length - b.length;
}

const pathLine = (path: string) => (path === '' ? '' : `Path: ${path}`);

function noMatch(node: ValidatorNode, value: JSONValue, path: string): string {
  return `Value does not match validator.\n${pathLine(path)}\nValue: ${show(value)}\nValidator: ${describe(node)}`;
}

function message({ node, value, path, issue }: Located): string {
  if (issue.kind === 'mismatch') {
    if (node.kind !== 'literal') return noMatch(node, value, path);
    return `\`${show(value)}\` does not match literal validator \`v.literal(${literalText(node.value)})\`.${pathLine(path)}`;
  }
  const tail = `\n${pathLine(path)}\nObject: ${show(value)}\nValidator: ${describe(node)}`;
  return issue.kind === 'missing'
    ? `Object is missing the required field \`${issue.field}\`. ${MISSING_HINT}${tail}`
    : `Object contains extra field \`${issue.field}\` that is not in the validator.${tail}`;
}

/**
 * Convex's message for the first of ajv's errors (all of them, from a
 * validator compiled with `allErrors`) in Convex's order.
 *
 * @example explainErrors(v.string(), 12, validate.errors) // 'Value does not match validator.\n\nValue: 12.0\nValidator: v.string()'
 */
export function explainErrors(root: ValidatorNode, encoded: JSONValue, errors: readonly ErrorObject[]): string {
  let first: Located | null = null;
  for (const error of errors) {
    const located = locate(root, encoded, error);
    if (located !== null && (first === null || compareOrder(located.order, first.order) < 0)) first = located;
  }
  return message(first ?? { node: root, value: encoded, path: '', order: [], issue: { kind: 'mismatch' } });
}
