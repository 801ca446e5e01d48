import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadedModules } from '../functions/loader.js';
import { generateFiles, GENERATED_DIR } from './generate.js';

// Writing functions/_generated/ and telling whether it is up to date. Files
// whose contents did not change are left alone (editors and watchers see
// no change).

/** The generated files that differ from what is on disk (missing ones included), as paths relative to the functions folder. */
export async function staleGeneratedFiles(modules: LoadedModules): Promise<string[]> {
  const stale: string[] = [];
  for (const [name, contents] of generateFiles(modules)) {
    const file = path.join(modules.functionsDir, GENERATED_DIR, name);
    const current = await readFile(file, 'utf8').catch(() => null);
    if (current !== contents) stale.push(path.join(GENERATED_DIR, name));
  }
  return stale;
}

/** Writes the generated files that changed; returns their paths relative to the functions folder. */
export async function writeGeneratedFiles(modules: LoadedModules): Promise<string[]> {
  const stale = await staleGeneratedFiles(modules);
  if (stale.length === 0) return stale;
  await mkdir(path.join(modules.functionsDir, GENERATED_DIR), { recursive: true });
  const files = generateFiles(modules);
  for (const relative of stale) await writeFile(path.join(modules.functionsDir, relative), files.get(path.basename(relative))!);
  return stale;
}
