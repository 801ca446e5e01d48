import { LightResponse } from './light-response.js';
import { inheritFrom, isLazyRequest, LazyRequest } from './lazy-request.js';

// Handlers build responses with the global `Response`, and may hand the
// request they got to `fetch` or `new Request` (to proxy it). Installing the
// light Response and a Request class that understands lazy requests, once per
// process before user modules load, keeps both cheap and correct.

let installed = false;

export function installFetchGlobals(): void {
  if (installed) return;
  installed = true;
  const NativeRequest = globalThis.Request;
  const nativeFetch = globalThis.fetch;

  class Request extends NativeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(isLazyRequest(input) ? (input as LazyRequest).toNative() : input, init);
    }

    static override [Symbol.hasInstance](value: unknown): boolean {
      // Requests built by undici itself are native ones; they count too.
      if (this !== Request) return Function.prototype[Symbol.hasInstance].call(this, value);
      return value instanceof NativeRequest;
    }
  }

  inheritFrom(Request);
  globalThis.Request = Request;
  globalThis.Response = LightResponse as unknown as typeof globalThis.Response;
  globalThis.fetch = function fetch(input: RequestInfo | URL, init?: RequestInit) {
    return nativeFetch(isLazyRequest(input) ? (input as LazyRequest).toNative() : input, init);
  };
}
