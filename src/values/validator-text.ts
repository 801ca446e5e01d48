import { jsonToConvex, valueToString, type JSONValue } from './value.js';
import type { ValidatorNode } from './validator-node.js';

// How validators and values read in Convex's messages: a validator as the
// source text that builds it, a value as the backend prints it.

/** serde_json's float text (ryu): how the backend prints `v.literal(1)` as `v.literal(1.0)`. */
function formatFloatLikeSerde(n: number): string {
  if (!Number.isFinite(n)) return '<number>';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exp = '0'] = n.toExponential().split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const point = Number(exp) + 1; // the decimal point sits after this many digits
  if (point > 16 || point <= -5) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${point - 1}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** A literal's value as the backend prints it inside `v.literal(...)`. */
export function literalText(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return formatFloatLikeSerde(value);
  if (typeof value === 'bigint') return '<bigint>';
  return String(value);
}

/**
 * A validator as source text, fields sorted by name; an optional field shows
 * as `v.optional(...)` inside an object, but a validator's own optionality
 * is left to its caller.
 *
 * @example describe(v.object({ b: v.number(), a: v.string() })) // 'v.object({a: v.string(), b: v.float64()})'
 */
export function describe(val: ValidatorNode): string {
  switch (val.kind) {
    case 'id':
      return `v.id(${JSON.stringify(val.tableName)})`;
    case 'literal':
      return `v.literal(${literalText(val.value)})`;
    case 'array':
      return `v.array(${describe(val.element)})`;
    case 'record':
      return `v.record(${describe(val.key)}, ${describe(val.value)})`;
    case 'union':
      return `v.union(${val.members.map(describe).join(', ')})`;
    case 'object': {
      const fields = Object.entries(val.fields).sort(([a], [b]) => (a < b ? -1 : 1));
      const parts = fields.map(([k, f]) => `${k}: ${f.isOptional === 'optional' ? `v.optional(${describe(f)})` : describe(f)}`);
      return `v.object({${parts.join(', ')}})`;
    }
    default:
      return `v.${val.kind}()`;
  }
}

/** An encoded value as the backend prints it (`12.0`, `{a: "x"}`); raw JSON when it does not decode. */
export function show(encoded: JSONValue): string {
  try {
    return valueToString(jsonToConvex(encoded));
  } catch {
    return JSON.stringify(encoded);
  }
}
