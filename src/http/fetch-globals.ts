import { LightResponse } from './light-response.js';
import { inheritFrom, isLazyRequest, LazyRequest } from './lazy-request.js';
import { capturedConsole } from '../log/console-capture.js';

// What the names `Response`, `Request`, `fetch` and `console` mean inside the
// user's functions and handlers. The loader bundles their modules with
// esbuild, which binds these four free names to this module's exports
// (`inject`, see functions/bundle.ts), so:
//  - `new Response(...)` is the light Response, whose common bodies are
//    written without stream plumbing (light-response.ts);
//  - `fetch(request)` and `new Request(request)` understand the lazy Request
//    a handler received (lazy-request.ts);
//  - `console.*` becomes log lines tied to the request (console-capture.ts);
// and nothing is installed on globalThis: the host process, or the Koa app
// embedding Portico, keeps Node's own globals. npm packages the functions
// import are not bundled and see the real globals; the gateway accepts
// native Responses as well.

const NativeRequest = globalThis.Request;
const nativeFetch = globalThis.fetch;

export const Response = LightResponse as unknown as typeof globalThis.Response;

export class Request extends NativeRequest {
  constructor(input: RequestInfo | URL, init?: RequestInit) {
    super(isLazyRequest(input) ? (input as LazyRequest).toNative() : input, init);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Requests built by undici itself are native ones; they count too.
    if (this !== Request) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof NativeRequest;
  }
}

// A handler's request passes `instanceof Request` for this class as for the native one.
inheritFrom(Request);

export function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<globalThis.Response> {
  return nativeFetch(isLazyRequest(input) ? (input as LazyRequest).toNative() : input, init);
}

export const console = capturedConsole;
