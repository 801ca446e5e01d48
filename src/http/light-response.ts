// A WHATWG Response that costs almost nothing to build.
//
// On Node 20, `new Response("hello")` allocates a ReadableStream and costs
// ~14 µs, as much as a whole request on a bare node:http server. Handlers
// build a Response on every request, so the gateway installs this class as
// the global `Response`: it records the body and init, answers the cheap
// getters itself, and builds the native Response only when something needs
// what only the native one has (`.body` as a stream, `formData()`, `clone()`).
// The writer (send-response.ts) reads the recorded body directly, which is
// what makes the common string / bytes / JSON answers fast.
//
// Instances pass `instanceof` for both this class and the native one, and
// native instances (from `fetch`, say) pass `instanceof` for this class.

export const NativeResponse: typeof globalThis.Response = globalThis.Response;

type NativeResponseT = InstanceType<typeof NativeResponse>;

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** What the writer may read without building the native Response. */
export interface LightState {
  body: unknown;
  init: ResponseInit | undefined;
  /** Set once user code touched `.headers`: from then on it is authoritative. */
  headers: Headers | undefined;
  native: NativeResponseT | undefined;
  used: boolean;
}

const STATE = Symbol('portico.response.state');

export class LightResponse {
  declare [STATE]: LightState;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    if (init !== undefined && init !== null) {
      const status = init.status;
      if (status !== undefined && (!Number.isInteger(status) || status < 200 || status > 599)) {
        throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
      }
      if (body !== undefined && body !== null && status !== undefined && NULL_BODY_STATUS.has(status)) {
        throw new TypeError(`Response constructor: Invalid response status code ${status}`);
      }
    }
    this[STATE] = { body: body ?? null, init: init ?? undefined, headers: undefined, native: undefined, used: false };
  }

  static json(data: unknown, init?: ResponseInit): LightResponse {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    if (init?.headers === undefined) return new LightResponse(text, { ...init, headers: JSON_CONTENT_TYPE });
    const headers = new NativeHeaders(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new LightResponse(text, { ...init, headers });
  }

  static redirect(url: string | URL, status?: number): NativeResponseT {
    return NativeResponse.redirect(url, status);
  }

  static error(): NativeResponseT {
    return NativeResponse.error();
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses written by users keep ordinary instanceof semantics.
    if (this !== LightResponse) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof NativeResponse;
  }

  get status(): number {
    return this[STATE].native?.status ?? this[STATE].init?.status ?? 200;
  }
  get statusText(): string {
    return this[STATE].native?.statusText ?? this[STATE].init?.statusText ?? '';
  }
  get ok(): boolean {
    const status = this.status;
    return status >= 200 && status < 300;
  }
  get type(): ResponseType {
    return 'default';
  }
  get url(): string {
    return '';
  }
  get redirected(): boolean {
    return false;
  }

  get headers(): Headers {
    const state = this[STATE];
    if (state.native) return state.native.headers;
    if (!state.headers) state.headers = headersWithDefaults(state.body, state.init?.headers);
    return state.headers;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.toNative().body;
  }
  get bodyUsed(): boolean {
    return this[STATE].used || (this[STATE].native?.bodyUsed ?? false);
  }

  text(): Promise<string> {
    const state = this[STATE];
    if (!state.native && typeof state.body === 'string') return Promise.resolve(this.consume() as string);
    return this.toNative().text();
  }
  json(): Promise<any> {
    const state = this[STATE];
    if (!state.native && typeof state.body === 'string') {
      try {
        return Promise.resolve(JSON.parse(this.consume() as string));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.toNative().json();
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.toNative().arrayBuffer();
  }
  bytes(): Promise<Uint8Array> {
    return this.toNative().arrayBuffer().then((buffer) => new Uint8Array(buffer));
  }
  blob(): Promise<Blob> {
    return this.toNative().blob();
  }
  formData(): Promise<FormData> {
    return this.toNative().formData();
  }
  clone(): NativeResponseT {
    return this.toNative().clone();
  }

  /** The native Response, built once, for whatever the light one cannot do. */
  toNative(): NativeResponseT {
    const state = this[STATE];
    if (!state.native) {
      if (state.used) throw new TypeError('Body is unusable: Body has already been read');
      const init: ResponseInit = { ...state.init };
      if (state.headers) init.headers = state.headers;
      state.native = new NativeResponse(state.body as BodyInit | null, init);
    }
    return state.native;
  }

  private consume(): unknown {
    const state = this[STATE];
    if (state.used) throw new TypeError('Body is unusable: Body has already been read');
    state.used = true;
    return state.body;
  }
}

Object.setPrototypeOf(LightResponse.prototype, NativeResponse.prototype);
Object.defineProperty(LightResponse, 'name', { value: 'Response' });

const NativeHeaders = globalThis.Headers;
// Shared and never mutated: Headers built from it copy it.
const JSON_CONTENT_TYPE: [string, string][] = [['content-type', 'application/json']];

/** The headers a native Response would report for this body and init. */
function headersWithDefaults(body: unknown, init: HeadersInit | undefined): Headers {
  const headers = new NativeHeaders(init);
  if (!headers.has('content-type')) {
    const type = defaultContentType(body);
    if (type) headers.set('content-type', type);
  }
  return headers;
}

/** Fetch's default Content-Type for a body, as the native constructor sets it. */
export function defaultContentType(body: unknown): string | null {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  if (body instanceof Blob) return body.type || null;
  return null;
}

/** The recorded state of a light response, or undefined for a native one. */
export function lightState(response: object): LightState | undefined {
  return (response as LightResponse)[STATE];
}
