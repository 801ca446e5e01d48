// Function names as Convex spells them: "messages:list" is export `list` of
// functions/messages.ts, "messages" its default export, "dir/file:fn" a
// nested module. The split is at the last ':'; a trailing ".js" on the module
// is accepted, any other extension is not.

import { suggest } from '../config/suggest.js';

export interface FunctionName {
  module: string;
  exportName: string;
  /** "module:export", or "module" for a default export. */
  canonical: string;
}

const SEGMENT = /^(?=.*[A-Za-z0-9])[A-Za-z0-9_.-]{1,64}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export class FunctionNameError extends Error {
  override name = 'FunctionNameError';
}

// Every call names its function, and a project names few: the parse of each
// name is kept (bounded, in case callers invent names).
const parsed = new Map<string, FunctionName>();
const PARSED_LIMIT = 10_000;

/** Parses and validates a function name; throws FunctionNameError with Convex's wording. */
export function parseFunctionName(raw: string): FunctionName {
  const known = parsed.get(raw);
  if (known !== undefined) return known;
  const name = parse(raw);
  if (parsed.size >= PARSED_LIMIT) parsed.clear();
  parsed.set(raw, name);
  return name;
}

function parse(raw: string): FunctionName {
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new FunctionNameError(`${String(raw)} is not a valid path to a function. The path is empty.`);
  }
  const colon = raw.lastIndexOf(':');
  let module = colon === -1 ? raw : raw.slice(0, colon);
  const exportName = colon === -1 ? 'default' : raw.slice(colon + 1);
  if (module.startsWith('/')) {
    throw new FunctionNameError(`${raw} is not a valid path to a function. Module paths must be relative (${module} is absolute).`);
  }
  const extension = /\.([A-Za-z0-9]+)$/.exec(module)?.[1];
  if (extension === 'js') module = module.slice(0, -3);
  else if (extension !== undefined && ['ts', 'mjs', 'cjs', 'mts', 'cts', 'jsx', 'tsx'].includes(extension)) {
    throw new FunctionNameError(`${raw} is not a valid path to a function. Module path (${module}) has an extension that isn't 'js'.`);
  }
  for (const segment of module.split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new FunctionNameError(`${raw} is not a valid path to a function. Path component "${segment}" must be 1 to 64 characters of letters, digits, '_', '-' or '.'.`);
    }
  }
  if (!IDENTIFIER.test(exportName) || /^_+$/.test(exportName)) {
    throw new FunctionNameError(`${raw} is not a valid path to a function. "${exportName}" is not a valid function name.`);
  }
  return Object.freeze({ module, exportName, canonical: exportName === 'default' ? module : `${module}:${exportName}` });
}

/** Module name of a file relative to the functions folder: "dir/file.ts" → "dir/file". */
export function moduleNameOf(relativePath: string): string {
  return relativePath.split(/[\\/]/).join('/').replace(/\.(ts|mts|js|mjs)$/, '');
}

/**
 * Convex's answer for a name that is not a function the caller may run,
 * plus what would help: the nearest name it may run ("did you mean"), or
 * that the function is internal. A caller that may run internal functions
 * (an admin, `portico run`) is not told about "public" functions. Internal
 * names are never suggested to a public caller.
 *
 * @example missingFunctionMessage('messages:lst', functions, false)
 * // "Could not find public function for 'messages:lst'. Did you mean 'messages:list'?"
 */
export function missingFunctionMessage(canonical: string, functions: ReadonlyMap<string, { visibility: 'public' | 'internal' }>, callerInternal: boolean): string {
  const head = callerInternal ? `Could not find function for '${canonical}'.` : `Could not find public function for '${canonical}'.`;
  if (functions.get(canonical)?.visibility === 'internal' && !callerInternal) {
    return `${head} '${canonical}' is an internal function: other functions call it (ctx.runQuery, ctx.runMutation, ctx.runAction), and so do callers with the admin key.`;
  }
  const callable = [...functions].filter(([, fn]) => callerInternal || fn.visibility === 'public').map(([name]) => name);
  const near = suggest(canonical, callable) ?? suggestExport(canonical, callable);
  if (near !== undefined) return `${head} Did you mean '${near}'?`;
  return `${head} Did you forget to export it from functions/${canonical.split(':')[0]}.ts?`;
}

/** The nearest export of the same module ("messages:lst" → "messages:list"), for long module paths. */
function suggestExport(canonical: string, callable: string[]): string | undefined {
  const colon = canonical.lastIndexOf(':');
  if (colon === -1) return undefined;
  const module = canonical.slice(0, colon);
  const exports = callable.filter((name) => name.startsWith(`${module}:`)).map((name) => name.slice(colon + 1));
  const near = suggest(canonical.slice(colon + 1), exports);
  return near === undefined ? undefined : `${module}:${near}`;
}
