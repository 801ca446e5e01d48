import { parseFunctionName } from './names.js';

// `api.messages.list` and `internal.admin.reset` as in Convex: property
// access builds a reference whose name is "messages:list". Without code
// generation the objects are untyped proxies; the names they produce are
// exactly what the string form would be.

export const FUNCTION_NAME = Symbol.for('functionName');

export interface FunctionReference {
  readonly [FUNCTION_NAME]: string;
}

// Any property path is a reference. Its members are typed `any` rather than
// AnyApi: under `noUncheckedIndexedAccess` an index signature's members
// would read as `AnyApi | undefined`, and `api.messages.list` would not
// type-check as an argument of ctx.runQuery.
type AnyApi = { readonly [key: string]: any } & FunctionReference;

// Each reference is made once and kept: `api.messages.list` runs on every
// call of a hot path, and would otherwise build two proxies each time.
function createApi(path: string[] = []): AnyApi {
  const children = new Map<string, AnyApi>();
  return new Proxy({} as AnyApi, {
    get(_target, prop) {
      // Not a thenable: `await api.messages` must not look like a promise.
      if (prop === 'then') return undefined;
      if (typeof prop === 'string') {
        let child = children.get(prop);
        if (child === undefined) children.set(prop, (child = createApi([...path, prop])));
        return child;
      }
      if (prop === FUNCTION_NAME) {
        if (path.length < 2) {
          const found = ['api', ...path].join('.');
          throw new Error(`API path is expected to be of the form \`api.moduleName.functionName\`. Found: \`${found}\``);
        }
        const module = path.slice(0, -1).join('/');
        const exportName = path[path.length - 1]!;
        return exportName === 'default' ? module : `${module}:${exportName}`;
      }
      return undefined;
    },
  });
}

/** References to public functions: `api.messages.list`. */
export const api: AnyApi = createApi();
/** References to internal functions: `internal.messages.purge`. */
export const internal: AnyApi = createApi();

/** A reference from its name, as Convex's makeFunctionReference. */
export function makeFunctionReference(name: string): FunctionReference {
  return { [FUNCTION_NAME]: name };
}

/** The canonical name a reference or string points at. */
export function functionNameOf(reference: unknown): string {
  if (typeof reference === 'string') return parseFunctionName(reference).canonical;
  if ((typeof reference === 'object' || typeof reference === 'function') && reference !== null) {
    const name = (reference as FunctionReference)[FUNCTION_NAME];
    if (typeof name === 'string') return parseFunctionName(name).canonical;
  }
  throw new TypeError(`Expected a function reference (api.module.fn) or a "module:fn" string, got ${typeof reference}`);
}
