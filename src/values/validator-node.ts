// The shape every validator shares with the `convex` package's: what
// printing, the JSON Schema and the explanation of a failure read. Written
// as a plain structural type so that those readers need not import the
// builder classes (which themselves print and describe through them), and so
// that a validator from either package fits.

/** One node of a validator tree, read by its `kind`. */
export type ValidatorNode =
  | { readonly kind: 'string' | 'float64' | 'int64' | 'boolean' | 'null' | 'bytes' | 'any'; readonly isOptional: string }
  | { readonly kind: 'id'; readonly isOptional: string; readonly tableName: string }
  | { readonly kind: 'literal'; readonly isOptional: string; readonly value: unknown }
  | { readonly kind: 'array'; readonly isOptional: string; readonly element: ValidatorNode }
  | { readonly kind: 'object'; readonly isOptional: string; readonly fields: { readonly [name: string]: ValidatorNode } }
  | { readonly kind: 'record'; readonly isOptional: string; readonly key: ValidatorNode; readonly value: ValidatorNode }
  | { readonly kind: 'union'; readonly isOptional: string; readonly members: readonly ValidatorNode[] };

/** A validator kind this code does not know (from a newer `convex` package, say). */
export function unsupportedKind(node: never): never {
  throw new Error(`Unsupported validator kind: ${(node as { kind?: unknown }).kind}`);
}
