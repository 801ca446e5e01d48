import type { PropertyValidators, ObjectType, Validator } from '../values/validators.js';
import type { ActionCtx, HttpActionCtx, MutationCtx, QueryCtx } from './context-types.js';

// The builders user modules call: `query({args, handler})`, `httpAction(fn)`...
// Each returns a frozen description the loader recognises by a global symbol,
// so a module that imports a second copy of Portico still registers.

export const FUNCTION_KIND = Symbol.for('portico.function');

export type FunctionKind = 'query' | 'mutation' | 'action';
export type Visibility = 'public' | 'internal';

export interface RegisteredFunction<Kind extends FunctionKind = FunctionKind, Args = any, Returns = any> {
  readonly [FUNCTION_KIND]: Kind;
  readonly kind: Kind;
  readonly visibility: Visibility;
  /** The declared argument validators, or null when the function takes any object. */
  readonly args: PropertyValidators | Validator<any, any> | null;
  readonly returns: Validator<any, any> | null;
  readonly handler: (ctx: any, args: Args) => Returns | Promise<Returns>;
}

export interface HttpAction {
  readonly [FUNCTION_KIND]: 'httpAction';
  readonly kind: 'httpAction';
  readonly isHttp: true;
  readonly handler: (ctx: HttpActionCtx, request: Request) => Promise<Response>;
}

type Definition<Ctx, ArgsValidator extends PropertyValidators | undefined, Returns> =
  | ((ctx: Ctx, args: ArgsValidator extends PropertyValidators ? ObjectType<ArgsValidator> : Record<string, any>) => Returns | Promise<Returns>)
  | {
      args?: ArgsValidator;
      returns?: Validator<any, any>;
      handler: (ctx: Ctx, args: ArgsValidator extends PropertyValidators ? ObjectType<ArgsValidator> : Record<string, any>) => Returns | Promise<Returns>;
    };

function register<Kind extends FunctionKind>(kind: Kind, visibility: Visibility, definition: unknown): RegisteredFunction<Kind> {
  const spec = (typeof definition === 'function' ? { handler: definition } : definition) as { handler?: unknown; args?: unknown; returns?: unknown } | null;
  if (typeof spec?.handler !== 'function') {
    throw new TypeError(`${visibility === 'internal' ? 'internal' : ''}${visibility === 'internal' ? kind[0]!.toUpperCase() + kind.slice(1) : kind}() expects a handler function or { args, handler }`);
  }
  return Object.freeze({
    [FUNCTION_KIND]: kind,
    kind,
    visibility,
    args: (spec.args ?? null) as RegisteredFunction['args'],
    returns: (spec.returns ?? null) as RegisteredFunction['returns'],
    handler: spec.handler as RegisteredFunction['handler'],
  });
}

/**
 * A read-only function over the database, callable from clients.
 *
 * @example
 * export const list = query({
 *   args: { author: v.string() },
 *   handler: (ctx, { author }) =>
 *     ctx.db.query('messages').withIndex('by_author', (q) => q.eq('author', author)).collect(),
 * });
 */
export function query<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<QueryCtx, A, R>) {
  return register('query', 'public', definition) as RegisteredFunction<'query', ArgsOf<A>, R>;
}

/**
 * A transaction over the database: all of its writes commit, or none.
 *
 * @example
 * export const send = mutation({
 *   args: { author: v.string(), body: v.string() },
 *   handler: (ctx, args) => ctx.db.insert('messages', args),
 * });
 */
export function mutation<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<MutationCtx, A, R>) {
  return register('mutation', 'public', definition) as RegisteredFunction<'mutation', ArgsOf<A>, R>;
}

/** Code with side effects (network calls...), running queries and mutations through ctx. Never retried. */
export function action<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<ActionCtx, A, R>) {
  return register('action', 'public', definition) as RegisteredFunction<'action', ArgsOf<A>, R>;
}

/** A query only other functions (and admin callers) may run. */
export function internalQuery<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<QueryCtx, A, R>) {
  return register('query', 'internal', definition) as RegisteredFunction<'query', ArgsOf<A>, R>;
}

/** A mutation only other functions (and admin callers) may run. */
export function internalMutation<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<MutationCtx, A, R>) {
  return register('mutation', 'internal', definition) as RegisteredFunction<'mutation', ArgsOf<A>, R>;
}

/** An action only other functions (and admin callers) may run. */
export function internalAction<A extends PropertyValidators | undefined = undefined, R = any>(definition: Definition<ActionCtx, A, R>) {
  return register('action', 'internal', definition) as RegisteredFunction<'action', ArgsOf<A>, R>;
}

/**
 * An HTTP endpoint: a WHATWG Request in, a Response out. Routes in
 * routes.yaml name it as `module:export`.
 *
 * @example
 * export const postMessage = httpAction(async (ctx, request) => {
 *   const { author, body } = await request.json();
 *   await ctx.runMutation(api.messages.send, { author, body });
 *   return new Response(null, { status: 200 });
 * });
 */
export function httpAction(handler: (ctx: HttpActionCtx, request: Request) => Promise<Response>): HttpAction {
  if (typeof handler !== 'function') throw new TypeError('httpAction() expects a function (ctx, request) => Response');
  return Object.freeze({ [FUNCTION_KIND]: 'httpAction' as const, kind: 'httpAction' as const, isHttp: true as const, handler });
}

/** The former name of `httpAction`, kept for code written against it. */
export const httpEndpoint = httpAction;

type ArgsOf<A> = A extends PropertyValidators ? ObjectType<A> : Record<string, any>;

export function isRegisteredFunction(value: unknown): value is RegisteredFunction {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as any)[FUNCTION_KIND];
  return kind === 'query' || kind === 'mutation' || kind === 'action';
}

export function isHttpAction(value: unknown): value is HttpAction {
  return typeof value === 'object' && value !== null && (value as any)[FUNCTION_KIND] === 'httpAction';
}
