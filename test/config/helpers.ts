// Shared by the config tests: write a routes.yaml (and friends) into a fresh
// temp folder, load it, and describe diagnostics as `routes.yaml:LINE:COL rule`
// so a test states exactly which problems it expects where.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Diagnostic, type LoadOptions, type LoadResult } from '../../src/config/index.js';

const dirs: string[] = [];
process.on('exit', () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Strips the first newline and the common indentation, so YAML can sit indented in a test. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw({ raw: strings }, ...values).replace(/^\n/, '');
  const lines = text.split('\n');
  const indent = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(indent)).join('\n');
}

export interface Fixture {
  dir: string;
  file: string;
}

/**
 * A temp folder holding routes.yaml, an empty functions/ (unless
 * `functions: false`) and any extra files (paths relative to the folder).
 */
export function writeFixture(source: string, extra: Record<string, string> = {}, options: { functions?: boolean } = {}): Fixture {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'portico-config-'));
  dirs.push(dir);
  if (options.functions !== false) mkdirSync(path.join(dir, 'functions'));
  const file = path.join(dir, 'routes.yaml');
  writeFileSync(file, source);
  for (const [name, content] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return { dir, file };
}

export async function load(
  source: string,
  options: LoadOptions & { extra?: Record<string, string>; functions?: boolean } = {},
): Promise<LoadResult & Fixture> {
  const fixture = writeFixture(source, options.extra, { functions: options.functions ?? true });
  const result = await loadConfig(fixture.file, { env: {}, ...options });
  return { ...result, ...fixture };
}

/** `routes.yaml:4:5 schema/unknown-key` */
export function located(d: Diagnostic): string {
  return `${path.basename(d.file)}:${d.line}:${d.column} ${d.rule}`;
}

export function locations(result: { diagnostics: Diagnostic[] }): string[] {
  return result.diagnostics.map(located);
}

/** The one diagnostic with this rule; fails when there are none or several. */
export function only(result: { diagnostics: Diagnostic[] }, rule: string): Diagnostic {
  const found = result.diagnostics.filter((d) => d.rule === rule);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${rule}, got ${found.length}:\n${result.diagnostics.map((d) => `${located(d)} ${d.message}`).join('\n')}`);
  }
  return found[0]!;
}
