import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { convexImports } from './convex-imports.js';

// Bundling the user's function modules with esbuild:
//  - .ts works without a separate build step, and stack traces point at the
//    user's TypeScript lines (linked source maps);
//  - `import ... from "portico"` resolves to the copy of Portico that is
//    running, so the registration symbols and the fetch globals are shared;
//  - npm packages stay external and resolve from the project as usual, which
//    is why builds live inside the project (.portico/build), not in a temp dir.

/** A problem in the user's code, at the place it was found. */
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

/** The files the bundler takes as entry points (each builds to a .mjs). */
export const MODULE_EXTENSIONS = /\.(ts|mts|js|mjs)$/;

// The running copy of Portico's public entry: index.ts under tsx, index.js
// once compiled. Both sit one folder above this file.
const SELF_ENTRY = new URL(`../index${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;
// What `Response`, `Request`, `fetch` and `console` mean in the user's code
// (see http/fetch-globals.ts): bound into the bundle, never set on globalThis.
const HANDLER_GLOBALS = new URL(`../http/fetch-globals${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url).href;
const INJECT = 'portico:handler-globals';

/** Where the build of `file` (a module under `functionsDir`) lands in `buildDir`. */
export function outputFileOf(file: string, functionsDir: string, buildDir: string): string {
  return path.join(buildDir, path.relative(functionsDir, file).replace(MODULE_EXTENSIONS, '.mjs'));
}

/**
 * Bundles the modules that build. When the whole set fails, the modules
 * whose own files hold the errors are set aside and the rest built again;
 * if the errors sit in a shared file that is not a module, each module is
 * tried alone to find the ones it breaks. This only runs when something is
 * wrong, and it lets one syntax error leave every other module checked.
 */
export async function bundleWhatBuilds(
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
        convexImports,
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
