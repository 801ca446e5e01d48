import type { Value } from '../values/value.js';
import { encodeKey } from './keys.js';
import type { IndexSpec } from './store.js';

// Index keys of a document: its indexed field values, then _creationTime and
// _id, so every key is unique and ties keep insertion order, as in Convex.

export function indexKey(fields: Record<string, Value>, index: IndexSpec, creationTime: number, id: string): Buffer {
  const values: (Value | undefined)[] = index.fields.map((path) => fieldAt(fields, path));
  values.push(creationTime, id);
  return encodeKey(values);
}

export function creationKey(creationTime: number, id: string): Buffer {
  return encodeKey([creationTime, id]);
}

/** The value at a dotted field path ("address.city"), or undefined. */
export function fieldAt(document: Record<string, Value | undefined>, path: string): Value | undefined {
  if (!path.includes('.')) return document[path];
  let current: Value | undefined = document as Value;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || Array.isArray(current) || current instanceof ArrayBuffer) return undefined;
    current = (current as Record<string, Value | undefined>)[part];
  }
  return current;
}
