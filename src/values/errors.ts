import { stringifyValueForError, type Value } from './value.js';

// A function throws ConvexError to send structured data to the client
// (`errorData` on the wire). User modules may import a different copy of this
// class, or the `convex` package's own, so recognition goes by the global
// symbol the package also sets, never by `instanceof`.

const IDENTIFYING_FIELD = Symbol.for('ConvexError');

/**
 * An error whose `data` reaches the client intact, even in production where
 * other messages are redacted.
 *
 * @example throw new ConvexError({ code: 'NOT_FOUND', id })
 */
export class ConvexError<TData extends Value> extends Error {
  override name = 'ConvexError';
  data: TData;
  [IDENTIFYING_FIELD] = true;

  constructor(data: TData) {
    super(typeof data === 'string' ? data : stringifyValueForError(data));
    this.data = data;
  }
}

/** True for any ConvexError: this module's, another copy's, or the `convex` package's. */
export function isConvexError(error: unknown): error is ConvexError<Value> {
  return typeof error === 'object' && error !== null && (error as { [IDENTIFYING_FIELD]?: unknown })[IDENTIFYING_FIELD] === true;
}
