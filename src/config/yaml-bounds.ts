// What a YAML document may cost once its aliases are followed. An alias
// (`*name`) stands for the whole node its anchor (`&name`) names, so a few
// lines can stand for billions of values (the "billion laughs"), for a value
// nested thousands of levels deep, or for a value that contains itself. Every
// later stage (converting to plain data, schema validation, lints, freezing
// the config) walks the expanded value, so these checks run first, on the
// parsed tree, without expanding anything: each node is measured once.
// They also refuse the trees the `yaml` package cannot turn into plain data
// (it throws, or warns on stderr): an alias to no anchor, a merge of
// something other than mappings, a mapping or list used as a key.
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, type Alias, type Document, type Node } from 'yaml';

export const YAML_LIMITS = {
  /** Nesting of mappings and lists, aliases followed. Configs need a handful; inline JSON Schemas a few dozen. */
  depth: 100,
  /**
   * Values (scalars, mappings, lists, pairs) that aliases add once expanded.
   * What the file spells out itself is bounded by its size, however long.
   */
  values: 200_000,
  /** The `yaml` package resolves each alias by scanning the anchors before it: quadratic in their number. */
  aliases: 5_000,
};

export interface BoundsProblem {
  rule: 'yaml/limit' | 'yaml/alias-cycle' | 'yaml/syntax' | 'schema/type';
  /** Offset in the text of the node the problem is reported at. */
  offset: number;
  message: string;
}

export interface Bounds {
  /** Each alias's node: the last one anchored with its name before it, as YAML defines. */
  aliases: ReadonlyMap<Alias, Node>;
  problem: BoundsProblem | null;
}

class Refused extends Error {
  constructor(readonly problem: BoundsProblem) {
    super(problem.message);
  }
}

function offsetOf(node: unknown): number {
  if (isPair(node)) return offsetOf(node.key ?? node.value);
  return (node as Node | null | undefined)?.range?.[0] ?? 0;
}

/** The children of a node in document order (a pair's key before its value). */
function childrenOf(node: unknown): unknown[] {
  if (isMap(node) || isSeq(node)) return node.items;
  if (isPair(node)) return [node.key, node.value];
  return [];
}

/**
 * Resolves every alias in one pass, in document order, without recursion (a
 * deep document must not overflow the stack here). The `yaml` package scans
 * the document again for each alias, which is quadratic.
 */
function resolveAliases(doc: Document.Parsed): { aliases: Map<Alias, Node>; problem: BoundsProblem | null } {
  const aliases = new Map<Alias, Node>();
  const anchors = new Map<string, Node>();
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) {
      if (aliases.size >= YAML_LIMITS.aliases) {
        const message = `more than ${YAML_LIMITS.aliases} aliases in one file; refused without expanding them`;
        return { aliases, problem: { rule: 'yaml/limit', offset: offsetOf(node), message } };
      }
      const target = anchors.get(node.source);
      if (target) aliases.set(node, target);
      continue;
    }
    const anchor = (node as { anchor?: string } | null | undefined)?.anchor;
    if (anchor) anchors.set(anchor, node as Node);
    const children = childrenOf(node);
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return { aliases, problem: null };
}

interface Measure {
  values: number;
  height: number;
}

const LEAF: Measure = { values: 1, height: 0 };

/** Checks depth, expanded size and alias cycles; each node is measured once, so this is linear in the file. */
export function checkBounds(doc: Document.Parsed): Bounds {
  const resolved = resolveAliases(doc);
  if (resolved.problem) return resolved;
  const { aliases } = resolved;
  // Only an anchored node can be reached twice (through its aliases), and
  // only an anchored node can contain an alias to itself: the bookkeeping is
  // kept for those alone, so a long file without aliases costs one plain walk.
  const measured = new Map<unknown, Measure>();
  const open = new Set<unknown>();
  let added = 0;

  // Recursion stays shallow: it stops at YAML_LIMITS.depth.
  const measure = (node: unknown, depth: number, at: unknown): Measure => {
    if (isAlias(node)) {
      const target = aliases.get(node);
      if (!target) throw new Refused({ rule: 'yaml/syntax', offset: offsetOf(node), message: `alias *${node.source} names no anchor (&${node.source}) before it` });
      if (open.has(target)) {
        const message = `alias *${node.source} sits inside the node &${node.source} names, so that value would contain itself`;
        throw new Refused({ rule: 'yaml/alias-cycle', offset: offsetOf(node), message });
      }
      const expanded = measure(target, depth, node);
      added += expanded.values;
      if (added > YAML_LIMITS.values) {
        const message = `aliases expand this file past ${YAML_LIMITS.values} values (an alias bomb?); refused without expanding it`;
        throw new Refused({ rule: 'yaml/limit', offset: offsetOf(node), message });
      }
      return expanded;
    }
    const known = measured.get(node);
    if (known) {
      if (depth + known.height > YAML_LIMITS.depth) tooDeep(at);
      return known;
    }
    if (depth > YAML_LIMITS.depth) tooDeep(at);
    if (isPair(node)) checkPair(node, aliases);
    if (!isMap(node) && !isSeq(node) && !isPair(node)) return LEAF;
    const anchored = Boolean((node as { anchor?: string }).anchor);
    if (anchored) open.add(node);
    let values = 1;
    let height = 0;
    const nested = isMap(node) || isSeq(node) ? 1 : 0;
    for (const child of childrenOf(node)) {
      const m = measure(child, depth + nested, child);
      values += m.values;
      height = Math.max(height, m.height + nested);
    }
    const result = { values, height };
    if (anchored) {
      open.delete(node);
      measured.set(node, result);
    }
    return result;
  };

  try {
    measure(doc.contents, 0, doc.contents);
  } catch (error) {
    if (error instanceof Refused) return { aliases, problem: error.problem };
    throw error;
  }
  return { aliases, problem: null };
}

/** A merge takes mappings; any other key is a name (routes.yaml has no other kind). */
function checkPair(pair: { key: unknown; value: unknown }, aliases: ReadonlyMap<Alias, Node>): void {
  const deref = (node: unknown) => (isAlias(node) ? aliases.get(node) : node);
  // A plain `<<` (or a `!!merge` key) parses to a symbol; a quoted "<<" is an ordinary key.
  if (isScalar(pair.key) && typeof pair.key.value === 'symbol') {
    const value = deref(pair.value);
    const sources = isSeq(value) ? value.items : [pair.value];
    for (const source of sources) {
      if (isMap(deref(source))) continue;
      const message = 'a merge (<<) takes a mapping, an alias of one, or a list of those';
      throw new Refused({ rule: 'yaml/syntax', offset: offsetOf(source ?? pair.key), message });
    }
  } else if (isCollection(deref(pair.key))) {
    throw new Refused({ rule: 'schema/type', offset: offsetOf(pair.key), message: 'a key must be a name, not a mapping or a list' });
  }
}

function tooDeep(at: unknown): never {
  const message = `mappings and lists nest more than ${YAML_LIMITS.depth} levels deep here (aliases followed); no config needs that`;
  throw new Refused({ rule: 'yaml/limit', offset: offsetOf(at), message });
}
