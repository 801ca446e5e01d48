// docs/configuration.md is generated from schemas/routes.schema.json by
// scripts/config-reference.mjs (`npm run docs`). A schema change without the
// regenerated page fails here, and so does a page that leaves a key out, or
// an error code of the catalogue that docs/http.md does not explain.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { GATEWAY_ERRORS } from '../../src/http/errors.js';

const root = path.resolve(import.meta.dirname, '../..');
const script = path.join(root, 'scripts/config-reference.mjs');
const reference = path.join(root, 'docs/configuration.md');

type Schema = { $ref?: string; description?: string; properties?: Record<string, Schema>; items?: Schema; [keyword: string]: unknown };

const generator = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8' });

/** A local $ref (`#/definitions/route` or `#/$defs/route`) followed to its schema. */
function resolve(schema: Schema, node: Schema): Schema {
  let current = node;
  while (typeof current.$ref === 'string') {
    let target: any = schema;
    for (const part of current.$ref.replace(/^#\//, '').split('/')) target = target?.[part];
    assert.ok(target, `$ref ${current.$ref} points at nothing`);
    current = target as Schema;
  }
  return current;
}

/** Each section of the page by its heading, with the text under it. */
function sections(markdown: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const part of markdown.split(/^#{2,} /m).slice(1)) {
    const newline = part.indexOf('\n');
    found.set(part.slice(0, newline).trim(), part.slice(newline + 1));
  }
  return found;
}

test('docs/configuration.md is what the generator writes from the schema as it is now', () => {
  const result = generator('--check');
  assert.equal(result.status, 0, `the configuration reference is stale:\n${result.stderr}`);
});

test('every top-level key and every route key has a section, with its description', () => {
  const schema = JSON.parse(readFileSync(path.join(root, 'schemas/routes.schema.json'), 'utf8')) as Schema;
  const page = sections(readFileSync(reference, 'utf8'));
  // The generator escapes Markdown in descriptions; compare the plain text.
  const plain = (text: string) => text.replace(/\\(.)/g, '$1').replace(/\s+/g, ' ');
  const expect = (heading: string, node: Schema) => {
    const body = page.get(`\`${heading}\``);
    assert.ok(body !== undefined, `docs/configuration.md has no section for ${heading}`);
    if (node.description) assert.ok(plain(body).includes(plain(node.description)), `the section of ${heading} does not give its description`);
  };

  const top = Object.entries(schema.properties ?? {});
  assert.ok(top.length > 5, 'the schema has top-level keys');
  for (const [key, node] of top) expect(key, node);

  const routes = resolve(schema, schema.properties!.routes!);
  const route = resolve(schema, routes.items!);
  const routeKeys = Object.entries(route.properties ?? {});
  assert.ok(routeKeys.some(([key]) => key === 'handler'), 'the route schema was found');
  for (const [key, node] of routeKeys) expect(`routes[].${key}`, node);
});

test('the staleness check fails on a page that differs from the schema, and says what to run', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-docs-'));
  try {
    const copy = path.join(dir, 'configuration.md');
    assert.equal(generator('--check', '--out', copy).status, 1, 'a missing page is stale');
    assert.equal(generator('--out', copy).status, 0);
    assert.equal(generator('--check', '--out', copy).status, 0);
    appendFileSync(copy, '\nA line the schema does not say.\n');
    const stale = generator('--check', '--out', copy);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /out of date.*npm run docs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every code of the error catalogue is in the table of docs/http.md, with its status', () => {
  const page = readFileSync(path.join(root, 'docs/http.md'), 'utf8');
  for (const [code, { status }] of Object.entries(GATEWAY_ERRORS)) {
    assert.ok(page.includes(`| \`${code}\` | ${status} |`), `docs/http.md does not explain ${code} (${status})`);
  }
});
