import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { isHttpAction, isRegisteredFunction, type HttpAction, type RegisteredFunction } from './registration.js';
import { moduleNameOf } from './names.js';
import { installConsoleCapture } from '../log/console-capture.js';

// Loads the user's function modules. The whole folder is bundled with esbuild
// into one build directory per load, then imported:
//  - .ts works without a separate build step, and stack traces point at the
//    user's TypeScript lines (linked source maps; see enableSourceMaps);
//  - every load is a fresh, consistent snapshot of the code, which is what a
//    reload needs (Node cannot unload an ES module, but it can load new ones);
//  - `import ... from "portico"` resolves to the copy of Portico that is
//    running, so the registration symbols and the fetch globals are shared.
// npm packages stay external and resolve from the project as usual, which is
// why builds live inside the project (.portico/build), not in a temp dir.

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

export interface SourceProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** esbuild's refusal to build, as problems at the user's lines. */
class BuildFailed extends Error {
  constructor(readonly problems: SourceProblem[]) {
    super(problems[0]?.message ?? 'the modules do not build');
  }
}

const MODULE_EXTENSIONS = /\.(ts|mts|js|mjs)$/;
const SKIPPED = /(^[._])|(\.d\.ts$)|(\.(test|spec)\.[mc]?[jt]s$)/;

// The running copy of Portico's public entry: index.ts under tsx, index.js
// once compiled. Both sit one folder above this file.
const SELF_ENTRY = new URL(`../index${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;
// What `Response`, `Request`, `fetch` and `console` mean in the user's code
// (see http/fetch-globals.ts): bound into the bundle, never set on globalThis.
const HANDLER_GLOBALS = new URL(`../http/fetch-globals${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;
const INJECT = 'portico:handler-globals';

let loadCounter = 0;

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

  const buildDir = path.join(buildRoot, `${Date.now().toString(36)}-${process.pid}-${++loadCounter}`);
  const { built, outputs, inputs } = await bundleWhatBuilds([...byName.values()].filter((file) => !problems.has(nameOf.get(file)!)), functionsDir, buildDir, (file, found) => {
    problems.set(nameOf.get(file)!, found);
  });
  if (built.length === 0) return empty();
  // npm packages are not in the bundle, so this sees the project's own code only.
  const usesConsole = outputs.some((code) => /\bconsole\s*\.\s*(log|info|warn|error|debug)\b/.test(code));

  for (const file of built) {
    const name = nameOf.get(file)!;
    const output = path.join(buildDir, path.relative(functionsDir, file).replace(MODULE_EXTENSIONS, '.mjs'));
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

/**
 * Bundles the modules that build. When the whole set fails, the modules
 * whose own files hold the errors are set aside and the rest built again;
 * if the errors sit in a shared file that is not a module, each module is
 * tried alone to find the ones it breaks. This only runs when something is
 * wrong, and it lets one syntax error leave every other module checked.
 */
async function bundleWhatBuilds(
  files: string[],
  functionsDir: string,
  buildDir: string,
  failed: (file: string, problems: SourceProblem[]) => void,
): Promise<{ built: string[]; outputs: string[]; inputs: string[] }> {
  let remaining = files;
  while (remaining.length > 0) {
    try {
      return { built: remaining, ...(await bundle(remaining, functionsDir, buildDir)) };
    } catch (error) {
      if (!(error instanceof BuildFailed)) throw error;
      const guilty = remaining.filter((file) => error.problems.some((problem) => problem.file === file));
      if (guilty.length > 0) {
        for (const file of guilty) failed(file, error.problems.filter((problem) => problem.file === file));
        remaining = remaining.filter((file) => !guilty.includes(file));
        continue;
      }
      const alone: string[] = [];
      for (const file of remaining) {
        try {
          await bundle([file], functionsDir, null);
          alone.push(file);
        } catch (single) {
          if (!(single instanceof BuildFailed)) throw single;
          failed(file, single.problems);
        }
      }
      if (alone.length === remaining.length) throw error;
      remaining = alone;
    }
  }
  return { built: [], outputs: [], inputs: [] };
}

/**
 * Bundles the modules into `buildDir` (or only checks that they build, with
 * null); returns the code of every output file and the source files read.
 */
async function bundle(files: string[], functionsDir: string, buildDir: string | null): Promise<{ outputs: string[]; inputs: string[] }> {
  if (buildDir !== null) await mkdir(buildDir, { recursive: true });
  try {
    const result = await esbuild.build({
      entryPoints: files,
      outbase: functionsDir,
      outdir: buildDir ?? path.join(functionsDir, '.portico-check'),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      sourcemap: 'linked',
      outExtension: { '.js': '.mjs' },
      chunkNames: '_chunks/[name]-[hash]',
      logLevel: 'silent',
      // ES modules have no `require`; code that uses it (or a CommonJS
      // dependency's interop) gets one bound to the module.
      banner: { js: "import { createRequire as __porticoRequire } from 'node:module'; const require = __porticoRequire(import.meta.url);" },
      inject: [INJECT],
      plugins: [
        {
          name: 'portico-self',
          setup(build) {
            build.onResolve({ filter: /^portico$/ }, () => ({ path: SELF_ENTRY, external: true }));
            build.onResolve({ filter: /^portico:handler-globals$/ }, () => ({ path: 'handler-globals', namespace: 'portico' }));
            build.onResolve({ filter: /^portico\/handler-globals$/ }, () => ({ path: HANDLER_GLOBALS, external: true }));
            build.onLoad({ filter: /^handler-globals$/, namespace: 'portico' }, () => ({
              contents: "export { Response, Request, fetch, console } from 'portico/handler-globals';",
              loader: 'js',
            }));
          },
        },
      ],
      write: false,
      metafile: true,
    });
    const code: string[] = [];
    // Input paths are relative to esbuild's working directory, the process's;
    // inputs of a plugin's own namespace ("ns:path") are not files.
    const inputs = Object.keys(result.metafile.inputs)
      .filter((input) => !/^[a-z][a-z0-9-]*:/i.test(input))
      .map((input) => path.resolve(input));
    if (buildDir === null) return { outputs: code, inputs };
    for (const output of result.outputFiles) {
      await mkdir(path.dirname(output.path), { recursive: true });
      await writeFile(output.path, output.contents);
      if (output.path.endsWith('.mjs')) code.push(output.text);
    }
    return { outputs: code, inputs };
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    const problems = failure.errors.map((message) => ({
      file: message.location ? path.resolve(message.location.file) : functionsDir,
      line: message.location?.line ?? 1,
      column: (message.location?.column ?? 0) + 1,
      message: message.text,
    }));
    throw new BuildFailed(problems);
  }
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

// Builds of this process before the previous one, and builds of processes
// that no longer run, are deleted. The previous build stays: requests that
// started on it may still load a lazily imported chunk.
const previousBuild = new Map<string, string>();
async function pruneOldBuilds(buildRoot: string, current: string): Promise<void> {
  const keep = new Set([current, previousBuild.get(buildRoot)]);
  previousBuild.set(buildRoot, current);
  let names: string[];
  try {
    names = await readdir(buildRoot);
  } catch {
    return;
  }
  for (const name of names) {
    if (keep.has(name)) continue;
    const pid = Number(name.split('-')[1]);
    if (pid === process.pid || !processAlive(pid)) {
      await rm(path.join(buildRoot, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
