import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../config/diagnostics.js';
import type { LoadedModules } from '../functions/loader.js';
import { GENERATED_DIR, GENERATED_MARK } from './generate.js';
import { staleGeneratedFiles, writeGeneratedFiles } from './write.js';

// A project that uses functions/_generated/ (it ran `portico codegen` once)
// keeps it in step with its functions: `validate` warns when it is stale,
// `dev` rewrites it after each reload. Projects without the folder, or whose
// folder another tool wrote (`npx convex codegen`), are left alone.

async function usesCodegen(modules: LoadedModules): Promise<boolean> {
  const api = await readFile(path.join(modules.functionsDir, GENERATED_DIR, 'api.d.ts'), 'utf8').catch(() => '');
  return api.includes(GENERATED_MARK);
}

/** A warning per stale generated file, for `portico validate`. */
export async function staleGeneratedDiagnostics(modules: LoadedModules): Promise<Diagnostic[]> {
  if (!(await usesCodegen(modules))) return [];
  const stale = await staleGeneratedFiles(modules);
  return stale.map((relative) => ({
    file: path.join(modules.functionsDir, relative),
    line: 1,
    column: 1,
    severity: 'warning' as const,
    message: `${relative} is out of date with the functions: run portico codegen`,
    rule: 'codegen/stale',
  }));
}

/** Rewrites functions/_generated/ when the project uses it; returns the files written. */
export async function refreshGenerated(modules: LoadedModules): Promise<string[]> {
  return (await usesCodegen(modules)) ? writeGeneratedFiles(modules) : [];
}
