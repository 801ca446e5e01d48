// Function names as Convex spells them: "messages:list" is export `list` of
// functions/messages.ts, "messages" its default export, "dir/file:fn" a
// nested module. The split is at the last ':'; a trailing ".js" on the module
// is accepted, any other extension is not.

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
