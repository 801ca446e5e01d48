#!/usr/bin/env node
// Writes docs/configuration.md, the reference of every key of routes.yaml,
// from schemas/routes.schema.json: each key's description, type, constraints,
// default, allowed values and examples, nested keys as sections named by
// their dotted path (`server.port`, `routes[].cors`), `$ref`s resolved. The
// schema is the one source: the validator and editors read it too, so the
// reference names the same keys, types and limits the validator enforces.
//
//   node scripts/config-reference.mjs                 writes the file (npm run docs)
//   node scripts/config-reference.mjs --check         exits 1 when the file differs from what it would write
//   node scripts/config-reference.mjs --out FILE      another output file (tests)
//
// Keys without a description are listed on stderr, so they get one.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCHEMA_FILE = path.join(root, 'schemas', 'routes.schema.json');
const DEFAULT_OUT = path.join(root, 'docs', 'configuration.md');

/** The reference as Markdown, and the dotted paths of keys without a description. */
function configReference(schema) {
  const out = [];
  const undescribed = [];
  const slugs = new Slugger();
  /** Definitions with keys, by $ref: where they were first written out. */
  const expanded = new Map();
  /** Definitions without keys (sizes, durations...), documented once at the end. */
  const valueTypes = new Map();

  const resolve = (node) => {
    let current = node;
    for (let depth = 0; current && typeof current.$ref === 'string'; depth++) {
      if (depth > 32) throw new Error(`$ref loop at ${node.$ref}`);
      const { $ref: target, ...siblings } = current;
      current = { ...pointer(schema, target), ...siblings };
    }
    return current ?? {};
  };
  const hasKeys = (node) => {
    const resolved = resolve(node);
    return typeof resolved.properties === 'object' && resolved.properties !== null;
  };
  const alternatives = (node) => node.anyOf ?? node.oneOf ?? null;

  /** The object form of a key (itself, or one of its anyOf forms) and the $ref it came through. */
  const objectForm = (node) => {
    if (hasKeys(node)) return { ref: node.$ref ?? null, schema: resolve(node) };
    const resolved = resolve(node);
    for (const alt of alternatives(resolved) ?? []) if (hasKeys(alt)) return { ref: alt.$ref ?? null, schema: resolve(alt) };
    return null;
  };

  const typeText = (node) => {
    if (typeof node.$ref === 'string') {
      if (hasKeys(node)) return 'object';
      const name = node.$ref.split('/').pop();
      if (!valueTypes.has(name)) valueTypes.set(name, node.$ref);
      return `[${name}](#${slugOf(name)})`;
    }
    if ('const' in node) return code(JSON.stringify(node.const));
    if (Array.isArray(node.enum)) return `one of ${node.enum.map((value) => code(String(value))).join(', ')}`;
    const alts = alternatives(node);
    if (alts) return alts.map(typeText).join(' or ');
    if (node.type === 'array') {
      if (!node.items) return 'list';
      if (Array.isArray(node.items.enum)) return `list, each one of ${node.items.enum.map((value) => code(String(value))).join(', ')}`;
      return `list of ${typeText(node.items)}`;
    }
    if (Array.isArray(node.type)) return node.type.join(' or ');
    return node.type ?? 'any value';
  };

  const constraints = (node) => {
    const found = [];
    if (node.minimum !== undefined) found.push(`minimum ${node.minimum}`);
    if (node.maximum !== undefined) found.push(`maximum ${node.maximum}`);
    if (node.minLength !== undefined) found.push(`at least ${node.minLength} character${node.minLength === 1 ? '' : 's'}`);
    if (node.maxLength !== undefined) found.push(`at most ${node.maxLength} characters`);
    if (node.minItems !== undefined) found.push(`at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
    if (node.maxItems !== undefined) found.push(`at most ${node.maxItems} items`);
    if (node.uniqueItems) found.push('no item twice');
    if (node.pattern !== undefined) found.push(`matches ${code(node.pattern)}`);
    if (node.format !== undefined) found.push(`format ${node.format}`);
    if (node.items && !node.items.$ref) {
      const inner = constraints(node.items);
      if (inner.length > 0) found.push(`each item: ${inner.join(', ')}`);
    }
    return found;
  };

  /** The bullet lines that describe a value: type, constraints, default, examples. */
  const facts = (node, { required = false } = {}) => {
    const lines = [`- Type: ${typeText(node)}`];
    const resolved = typeof node.$ref === 'string' && !hasKeys(node) ? node : resolve(node);
    const own = constraints(resolved);
    const alts = alternatives(resolved);
    if (alts) {
      for (const alt of alts) {
        const inner = typeof alt.$ref === 'string' ? [] : constraints(alt);
        if (inner.length > 0) own.push(`${typeText(alt)}: ${inner.join(', ')}`);
      }
    }
    if (own.length > 0) lines.push(`- Constraints: ${own.join('; ')}`);
    if (required) lines.push('- Required');
    if (node.default !== undefined) lines.push(`- Default: ${code(JSON.stringify(node.default))}`);
    const examples = node.examples ?? resolved.examples;
    if (Array.isArray(examples) && examples.length > 0) lines.push(`- Examples: ${examples.map((example) => code(JSON.stringify(example))).join(', ')}`);
    return lines;
  };

  const section = (level, title, node, options) => {
    out.push(`${'#'.repeat(level)} ${code(title)}`, '');
    slugs.take(title);
    const description = node.description ?? (typeof node.$ref === 'string' && hasKeys(node) ? resolve(node).description : undefined);
    if (description) out.push(prose(description), '');
    else undescribed.push(title);
    out.push(...facts(node, options), '');
  };

  /** A key's section, then its own keys (an object, or the items of a list of objects). */
  const key = (keyPath, node, required) => {
    section(keyPath.includes('.') || keyPath.includes('[') ? 3 : 2, keyPath, node, { required });
    const object = objectForm(node);
    if (object) return keysOf(keyPath, object);
    const resolved = resolve(node);
    if (resolved.type === 'array' && resolved.items && hasKeys(resolved.items)) {
      const items = resolve(resolved.items);
      if (items.description) out.push(prose(items.description), '');
      keysOf(`${keyPath}[]`, { ref: resolved.items.$ref ?? null, schema: items });
    }
  };

  const keysOf = (parent, { ref, schema: object }) => {
    if (ref !== null && expanded.has(ref)) {
      const first = expanded.get(ref);
      out.push(`The keys are those of ${link(first)}: ${Object.keys(object.properties).map(code).join(', ')}.`, '');
      return;
    }
    if (ref !== null) expanded.set(ref, parent);
    const required = new Set(object.required ?? []);
    for (const [name, child] of Object.entries(object.properties)) key(`${parent}.${name}`, child, required.has(name));
  };

  const link = (title) => `[${code(title)}](#${slugOf(title)})`;

  // --- the page ---------------------------------------------------------
  out.push(`# ${schema.title ?? 'routes.yaml'}: configuration reference`, '');
  out.push(
    '<!-- Generated by scripts/config-reference.mjs from schemas/routes.schema.json; edit the schema, then run `npm run docs`. -->',
    '',
  );
  if (schema.description) out.push(prose(schema.description), '');
  out.push(
    'Every key of `routes.yaml`, as `schemas/routes.schema.json` defines it. A key nested in another is named by its',
    'dotted path (`server.port`); `[]` stands for each item of a list (`routes[].cors`).',
  );
  if (schema.additionalProperties === false) out.push('Keys not listed here are errors.');
  out.push('Strings may use `${NAME}` and `${NAME:-default}` from the environment ([README](../README.md#routesyaml)).', '');
  const topRequired = new Set(schema.required ?? []);
  const top = Object.keys(schema.properties ?? {});
  out.push(`Top-level keys: ${top.map((name) => link(name)).join(', ')}.`, '');
  for (const name of top) key(name, schema.properties[name], topRequired.has(name));

  // The value types the keys above link to, in the order they were first met.
  if (valueTypes.size > 0) {
    out.push('## Value types', '');
    slugs.take('Value types');
    out.push('Forms of value that several keys share.', '');
    for (const [name, ref] of valueTypes) {
      const node = pointer(schema, ref);
      out.push(`### ${name}`, '');
      slugs.take(name);
      if (node.description) out.push(prose(node.description), '');
      out.push(...facts(node), '');
    }
  }
  return { markdown: `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`, undescribed };
}

/** The node a local JSON pointer (`#/definitions/size`, `#/$defs/size`) names. */
function pointer(schema, ref) {
  if (!ref.startsWith('#')) throw new Error(`Only local $refs are supported, not ${ref}`);
  let node = schema;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const part = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node?.[part];
  }
  if (node === undefined) throw new Error(`$ref ${ref} points at nothing`);
  return node;
}

/** Inline code that survives backticks inside it (header-name patterns hold one). */
function code(text) {
  const longest = Math.max(0, ...(String(text).match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = longest > 0 || /^`|`$/.test(text) ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A description as Markdown: its `code` spans kept, characters Markdown would read as markup escaped elsewhere. */
function prose(text) {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/([\\*_<>[\]])/g, '\\$1')))
    .join('');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function slugOf(title) {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Refuses two headings with one anchor, which GitHub would number apart and break the links. */
class Slugger {
  seen = new Map();
  take(title) {
    const slug = slugOf(title);
    if (this.seen.has(slug)) throw new Error(`Headings "${this.seen.get(slug)}" and "${title}" would share the anchor #${slug}`);
    this.seen.set(slug, title);
  }
}

function main(argv) {
  const check = argv.includes('--check');
  const outIndex = argv.indexOf('--out');
  const outFile = outIndex === -1 ? DEFAULT_OUT : path.resolve(argv[outIndex + 1] ?? '');
  const unknown = argv.filter((arg, i) => arg !== '--check' && arg !== '--out' && argv[i - 1] !== '--out');
  if (unknown.length > 0 || (outIndex !== -1 && argv[outIndex + 1] === undefined)) {
    console.error('usage: node scripts/config-reference.mjs [--check] [--out FILE]');
    return 2;
  }
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
  const { markdown, undescribed } = configReference(schema);
  if (undescribed.length > 0) {
    console.error(`warning: ${undescribed.length} keys of schemas/routes.schema.json have no description:\n${undescribed.map((name) => `  ${name}`).join('\n')}`);
  }
  const shown = path.relative(process.cwd(), outFile) || outFile;
  if (check) {
    let current = null;
    try {
      current = readFileSync(outFile, 'utf8');
    } catch {}
    if (current === markdown) return 0;
    console.error(`${shown} is ${current === null ? 'missing' : 'out of date'} (it must match schemas/routes.schema.json): run \`npm run docs\` (node scripts/config-reference.mjs) and commit the result`);
    return 1;
  }
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(outFile, markdown);
  console.log(`wrote ${shown}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
