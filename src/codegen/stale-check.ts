import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Diagnostic } from '../config/diagnostics.js';
import type { LoadedModules } from '../functions/loader.js';
import { GENERATED_DIR } from './generate.js';
import { staleGeneratedFiles, writeGeneratedFiles } from './write.js';

// A project that uses functions/_generated/ (it ran `portico codegen` once)
// keeps it in step with its functions: `validate` warns when it is stale,
// `dev` rewrites it after each reload. Projects without the folder are left
// alone.

function usesCodegen(modules: LoadedModules): boolean {
  return existsSync(path.join(modules.functionsDir, GENERATED_DIR, 'api.d.ts'));
}

/** A warning per stale generated file, for `portico validate`. */
export async function staleGeneratedDiagnostics(modules: LoadedModules): Promise<Diagnostic[]> {
  if (!usesCodegen(modules)) return [];
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
  return usesCodegen(modules) ? writeGeneratedFiles(modules) : [];
}
