// routes.yaml as a YAML document that remembers where every node came from,
// so each later check (env, schema, lint) can point at a line and column.
import {
  LineCounter,
  parseDocument,
  isAlias,
  type Alias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { diagnostic, type Diagnostic } from './diagnostics.js';
import type { RuleId } from './rules.js';
import { checkBounds, YAML_LIMITS } from './yaml-bounds.js';

export type PathSegment = string | number;
export type JsonPath = readonly PathSegment[];

export interface Position {
  line: number;
  column: number;
}

export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Each alias's node, resolved once (the `yaml` package rescans the document per alias). */
  aliases: ReadonlyMap<Alias, Node>;
}

const START: Position = { line: 1, column: 1 };
const TOO_DEEP_TO_PARSE = `mappings and lists nest too deeply for the YAML parser (no config needs more than ${YAML_LIMITS.depth} levels)`;

export interface ParsedYaml {
  source: YamlSource;
  diagnostics: Diagnostic[];
  /** Syntax errors make the tree unreliable: later checks would only add noise. */
  fatal: boolean;
}

export function parseYaml(file: string, text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    // merge: `<<: *anchor` is the usual way to share route settings.
    // prettyErrors off: its messages embed a code frame, ours are one line.
    doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  } catch (error) {
    // The parser recurses per level of block nesting: thousands of levels overflow its stack.
    if (!(error instanceof RangeError)) throw error;
    const at = deepestNesting(text);
    // The parser stopped halfway through counting lines: count them again.
    const counter = new LineCounter();
    counter.addNewLine(0);
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) counter.addNewLine(i + 1);
    const source: YamlSource = { file, doc: parseDocument(''), lineCounter: counter, aliases: new Map() };
    return { source, diagnostics: [diagnostic('yaml/limit', file, offsetPosition(source, at), TOO_DEEP_TO_PARSE)], fatal: true };
  }
  const bounds = checkBounds(doc);
  const source: YamlSource = { file, doc, lineCounter, aliases: bounds.aliases };
  const diagnostics: Diagnostic[] = [];
  let fatal = false;
  for (const error of doc.errors) {
    const at = offsetPosition(source, error.pos[0]);
    if (error.code === 'DUPLICATE_KEY') {
      // The error's range covers only the key's first character: read the key from the text.
      const key = /^("[^"\n]*"|'[^'\n]*'|[^:\s][^:\n]*?)\s*:/.exec(text.slice(error.pos[0]))?.[1];
      const shown = key === undefined ? '' : /^["']/.test(key) ? ` ${key}` : ` '${key}'`;
      diagnostics.push(diagnostic('yaml/duplicate-key', file, at, `duplicate key${shown}`));
    } else if (error.code === 'RESOURCE_EXHAUSTION') {
      // Flow collections nested thousands deep: the parser caught its own stack overflow.
      fatal = true;
      diagnostics.push(diagnostic('yaml/limit', file, at, TOO_DEEP_TO_PARSE));
    } else {
      fatal = true;
      diagnostics.push(diagnostic('yaml/syntax', file, at, error.message));
    }
  }
  for (const warning of doc.warnings) {
    diagnostics.push(diagnostic('yaml/warning', file, offsetPosition(source, warning.pos[0]), warning.message));
  }
  // A tree the parser could not read may hold half-resolved aliases: its own errors say enough.
  if (!fatal && bounds.problem) {
    fatal = true;
    diagnostics.push(diagnostic(bounds.problem.rule, file, offsetPosition(source, bounds.problem.offset), bounds.problem.message));
  }
  return { source, diagnostics, fatal };
}

/**
 * The document as plain data. Only for a source whose parse was not fatal:
 * parseYaml has bounded what its aliases expand to, so the `yaml` package's
 * own alias budget (100 uses of an anchor, which a config with many routes
 * merging one `<<: *defaults` passes) is not needed.
 */
export function yamlData(source: YamlSource): unknown {
  return source.doc.toJS({ maxAliasCount: -1 });
}

/** Where a file the parser could not nest through probably goes too deep: its most indented line, or its deepest bracket. */
function deepestNesting(text: string): number {
  let best = 0;
  let bestScore = -1;
  let brackets = 0;
  let lineStart = 0;
  for (let i = 0; i <= text.length; i++) {
    const ch = text[i];
    if (ch === '[' || ch === '{') brackets++;
    else if (ch === ']' || ch === '}') brackets--;
    if (i === text.length || ch === '\n') {
      const indent = /^ */.exec(text.slice(lineStart, i))![0].length;
      const score = indent / 2 + brackets;
      if (score > bestScore) {
        bestScore = score;
        best = lineStart + indent;
      }
      lineStart = i + 1;
    }
  }
  return best;
}

export function offsetPosition(source: YamlSource, offset: number): Position {
  const { line, col } = source.lineCounter.linePos(offset);
  // Line 0 means "before the first line the parser counted" (an empty file).
  return line === 0 ? START : { line, column: Math.max(1, col) };
}

function deref(source: YamlSource, node: unknown): unknown {
  return isAlias(node) ? source.aliases.get(node) : node;
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<') && key.source === '<<';
}

/** The pair for `key` in a map, looking through `<<` merges like toJS() does (own keys win). */
function findPair(source: YamlSource, map: YAMLMap, key: string, seen = new Set<YAMLMap>()): Pair | undefined {
  if (seen.has(map)) return undefined;
  seen.add(map);
  const own = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  if (own) return own as Pair;
  for (const pair of map.items) {
    if (!isMergeKey(pair.key)) continue;
    const target = deref(source, pair.value);
    const sources = isSeq(target) ? target.items.map((n) => deref(source, n)) : [target];
    for (const s of sources) {
      if (!isMap(s)) continue;
      const found = findPair(source, s, key, seen);
      if (found) return found;
    }
  }
  return undefined;
}

interface Step {
  node: Node | undefined;
  pair: Pair | undefined;
}

/** Walks as far along the path as the tree goes; every visited step is returned. */
function walk(source: YamlSource, path: JsonPath): Step[] {
  const steps: Step[] = [{ node: (source.doc.contents ?? undefined) as Node | undefined, pair: undefined }];
  let current: unknown = deref(source, source.doc.contents);
  for (const segment of path) {
    if (isMap(current)) {
      const pair = findPair(source, current, String(segment));
      if (!pair) break;
      steps.push({ node: (pair.value ?? undefined) as Node | undefined, pair });
      current = deref(source, pair.value);
    } else if (isSeq(current)) {
      const item = current.items[Number(segment)];
      if (item === undefined) break;
      steps.push({ node: item as Node, pair: undefined });
      current = deref(source, item);
    } else {
      break;
    }
  }
  return steps;
}

function nodeStart(source: YamlSource, node: unknown): Position | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? offsetPosition(source, range[0]) : undefined;
}

/** An empty value (`host:`) has its range at the end of the line; its key is the better place. */
function isEmptyValue(node: Node | undefined): boolean {
  return isScalar(node) && node.value === null && !node.source;
}

/**
 * Where the value at `path` starts. A missing node falls back to its nearest
 * existing ancestor, so a diagnostic always has a position.
 */
export function valuePosition(source: YamlSource, path: JsonPath): Position {
  const steps = walk(source, path);
  for (let i = steps.length - 1; i >= 0; i--) {
    const { node, pair } = steps[i]!;
    if (node && !isEmptyValue(node)) {
      const at = nodeStart(source, node);
      if (at) return at;
    }
    const keyAt = pair && nodeStart(source, pair.key);
    if (keyAt) return keyAt;
  }
  return START;
}

/** Where the key of the last path segment starts, else where its value starts. */
export function keyPosition(source: YamlSource, path: JsonPath): Position {
  const steps = walk(source, path);
  if (steps.length === path.length + 1) {
    const keyAt = nodeStart(source, steps[steps.length - 1]!.pair?.key);
    if (keyAt) return keyAt;
  }
  return valuePosition(source, path);
}

/**
 * Builds diagnostics located by JSON path in one YAML source. It also carries
 * what schema validation found, so later checks neither repeat a wrong
 * value's problem (one wrong value, one message) nor read a misspelled key
 * as absent.
 */
export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly source: YamlSource,
    private readonly findings: { wrongValues: ReadonlySet<string>; misspelled: ReadonlySet<string> } = {
      wrongValues: new Set(),
      misspelled: new Set(),
    },
  ) {}

  static key(path: JsonPath): string {
    return JSON.stringify(path);
  }

  /** The value at `path` already has a diagnostic of its own. */
  isSuppressed(path: JsonPath): boolean {
    return this.findings.wrongValues.has(Reporter.key(path));
  }

  /** An unknown key next to `path` probably means it: its absence proves nothing. */
  isMisspelled(path: JsonPath): boolean {
    return this.findings.misspelled.has(Reporter.key(path));
  }

  /** At the value of `path`. */
  at(rule: RuleId, path: JsonPath, message: string, hint?: string): void {
    if (this.isSuppressed(path)) return;
    this.diagnostics.push(diagnostic(rule, this.source.file, valuePosition(this.source, path), message, hint));
  }

  /** At the key of the last segment of `path`. */
  atKey(rule: RuleId, path: JsonPath, message: string, hint?: string): void {
    this.diagnostics.push(diagnostic(rule, this.source.file, keyPosition(this.source, path), message, hint));
  }

  line(path: JsonPath): number {
    return valuePosition(this.source, path).line;
  }
}
