import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isHttpAction, isRegisteredFunction, type HttpAction, type RegisteredFunction } from './registration.js';
import { moduleNameOf } from './names.js';
import { bundleWhatBuilds, MODULE_EXTENSIONS, outputFileOf, type SourceProblem } from './bundle.js';
import { nextBuildDir, pruneOldBuilds } from './build-pruning.js';
import { installConsoleCapture } from '../log/console-capture.js';

export type { SourceProblem } from './bundle.js';

// Loads the user's function modules. The whole folder is bundled into one
// build directory per load (bundle.ts), then imported: every load is a
// fresh, consistent snapshot of the code, which is what a reload needs (Node
// cannot unload an ES module, but it can load new ones). Builds that no load
// can use any more are deleted afterwards (build-pruning.ts).

export interface LoadedModules {
  functionsDir: string;
  /** Module name ("dir/file") → its namespace object. */
  modules: ReadonlyMap<string, Record<string, unknown>>;
  /** Canonical function name ("messages:list", "messages") → definition. */
  functions: ReadonlyMap<string, RegisteredFunction>;
  httpActions: ReadonlyMap<string, HttpAction>;
  /** The default export of functions/schema.ts, if there is one. */
  schema: unknown;
  /** Whether the user's code calls console.* (see log/console-capture.ts). */
  usesConsole: boolean;
  /**
   * Every source file the build read (path relative to the functions
   * folder → sha256 of its content): what a reload compares to say which
   * modules changed. (Absent on module sets made by hand, in tests.)
   */
  sources?: ReadonlyMap<string, string>;
  /** One hash of `sources`: the same code hashes the same on any machine, port or folder. */
  codeHash?: string;
  /**
   * Modules that do not build or throw while loading, with where and why.
   * The others are loaded, so their own problems can be reported too.
   */
  problems: ReadonlyMap<string, SourceProblem[]>;
}

const SKIPPED = /(^[._])|(\.d\.ts$)|(\.(test|spec)\.[mc]?[jt]s$)/;

/**
 * Finds, bundles and imports every module under `functionsDir`. Problems in
 * the user's code (a syntax error, a module that throws at import) are
 * returned per module, not thrown; only the machine failing (a build folder
 * that cannot be written) throws.
 */
export async function loadModules(functionsDir: string, buildRoot: string): Promise<LoadedModules> {
  enableSourceMaps();
  // Module code runs at import: its console output must not reach stdout raw.
  installConsoleCapture();
  const files = await listModuleFiles(functionsDir);
  const modules = new Map<string, Record<string, unknown>>();
  const functions = new Map<string, RegisteredFunction>();
  const httpActions = new Map<string, HttpAction>();
  const problems = new Map<string, SourceProblem[]>();
  const empty = () => ({ functionsDir, modules, functions, httpActions, schema: undefined, usesConsole: false, problems, sources: new Map<string, string>(), codeHash: hashSources(new Map()) });
  if (files.length === 0) return empty();

  const byName = new Map<string, string>();
  for (const file of files) {
    const name = moduleNameOf(path.relative(functionsDir, file));
    const other = byName.get(name);
    if (other) problems.set(name, [{ file, line: 1, column: 1, message: `module "${name}" is also defined by ${path.relative(functionsDir, other)}` }]);
    else byName.set(name, file);
  }
  const nameOf = new Map([...byName].map(([name, file]) => [file, name]));

  const buildDir = nextBuildDir(buildRoot);
  const { built, outputs, inputs } = await bundleWhatBuilds([...byName.values()].filter((file) => !problems.has(nameOf.get(file)!)), functionsDir, buildDir, (file, found) => {
    problems.set(nameOf.get(file)!, found);
  });
  if (built.length === 0) return empty();
  // npm packages are not in the bundle, so this sees the project's own code only.
  const usesConsole = outputs.some((code) => /\bconsole\s*\.\s*(log|info|warn|error|debug)\b/.test(code));

  for (const file of built) {
    const name = nameOf.get(file)!;
    const output = outputFileOf(file, functionsDir, buildDir);
    let namespace: Record<string, unknown>;
    try {
      namespace = await import(pathToFileURL(output).href);
    } catch (error) {
      const missing = await missingPackage(error, buildDir, file, inputs);
      if (missing) {
        problems.set(name, [missing]);
        continue;
      }
      // A diagnostic is one line (FILE:LINE:COL: error: MESSAGE): the
      // location already says where, and the loader's own frames say nothing.
      const thrown = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      problems.set(name, [{ ...locate(error, file), message: `Uncaught ${thrown}`.replace(/\s*\n\s*/g, ' ') }]);
      continue;
    }
    modules.set(name, namespace);
    for (const [exportName, value] of Object.entries(namespace)) {
      const canonical = exportName === 'default' ? name : `${name}:${exportName}`;
      if (isRegisteredFunction(value)) functions.set(canonical, value);
      else if (isHttpAction(value)) httpActions.set(canonical, value);
    }
  }
  void pruneOldBuilds(buildRoot, path.basename(buildDir));
  const sources = await hashInputs(inputs, functionsDir);
  return { functionsDir, modules, functions, httpActions, schema: modules.get('schema')?.default, usesConsole, problems, sources, codeHash: hashSources(sources) };
}

async function hashInputs(inputs: string[], functionsDir: string): Promise<Map<string, string>> {
  const sources = new Map<string, string>();
  for (const input of inputs.sort()) {
    const relative = path.relative(functionsDir, input).split(path.sep).join('/');
    // A file deleted since the build read it hashes as gone; the next reload sees it.
    const content = await readFile(input).catch(() => Buffer.alloc(0));
    sources.set(relative, createHash('sha256').update(content).digest('hex'));
  }
  return sources;
}

function hashSources(sources: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const [file, digest] of [...sources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`${file}\0${digest}\n`);
  return hash.digest('hex');
}

async function listModuleFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (SKIPPED.test(entry.name) || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listModuleFiles(full)));
    else if (MODULE_EXTENSIONS.test(entry.name)) files.push(full);
  }
  return files.sort();
}

/**
 * An npm package the project's code imports but that is not installed.
 * Packages stay outside the bundle, so Node only finds out at import time,
 * naming the build's file; this points at the import in the user's source
 * (the module's own file first, else the shared file that has it) and says
 * how to install it. Null for any other failure.
 */
async function missingPackage(error: unknown, buildDir: string, moduleFile: string, inputs: string[]): Promise<SourceProblem | null> {
  if ((error as NodeJS.ErrnoException)?.code !== 'ERR_MODULE_NOT_FOUND') return null;
  const match = /Cannot find package '([^']+)' imported from (.+)$/m.exec((error as Error).message);
  // A package missing below another package is that package's problem, not an import of the project.
  if (!match || !path.resolve(match[2]!).startsWith(buildDir)) return null;
  const name = match[1]!;
  const pattern = new RegExp(`(?:\\bfrom\\s*|\\bimport\\s*\\(?\\s*|\\brequire\\s*\\(\\s*)(['"\`])${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?:/[^'"\`]*)?\\1`);
  for (const file of [moduleFile, ...inputs.filter((input) => input !== moduleFile)]) {
    const source = await readFile(file, 'utf8').catch(() => '');
    const found = pattern.exec(source);
    if (!found) continue;
    const offset = found.index + found[0].indexOf(found[1]!);
    const before = source.slice(0, offset).split('\n');
    return {
      file,
      line: before.length,
      column: before[before.length - 1]!.length + 1,
      message: installHint(name),
    };
  }
  return { file: moduleFile, line: 1, column: 1, message: installHint(name) };
}

function installHint(name: string): string {
  return `package "${name}" is imported but not installed; install it in the project: npm install ${name}`;
}

/** The user's file and line in a (source-mapped) stack, else the module itself. */
function locate(error: unknown, fallbackFile: string): { file: string; line: number; column: number } {
  const stack = String((error as Error)?.stack ?? '');
  const dir = path.dirname(fallbackFile);
  for (const match of stack.matchAll(/\(?((?:file:\/\/)?\/[^():\s]+):(\d+):(\d+)\)?/g)) {
    const file = match[1]!.replace(/^file:\/\//, '');
    if (file.startsWith(dir) || file === fallbackFile) return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return { file: fallbackFile, line: 1, column: 1 };
}

let sourceMapsEnabled = false;
function enableSourceMaps(): void {
  if (sourceMapsEnabled) return;
  sourceMapsEnabled = true;
  process.setSourceMapsEnabled(true);
}
