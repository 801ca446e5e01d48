// Every error the gateway itself answers with, in one catalogue: a stable
// `code` clients can switch on, the HTTP status, and a message. Only these
// reach clients verbatim; anything else thrown inside the gateway is an
// internal fault, logged with its stack and shown to the client as a request
// id. The one other error answer is a handler's own failure, in Convex's
// shape (HANDLER_FAILURE_STATUS; gateway/handler-errors.ts builds its body).
// test/http/error-catalogue.test.ts fails on an error answer built elsewhere.

export const GATEWAY_ERRORS = {
  BadRequest: { status: 400, message: 'The request could not be parsed' },
  BadJsonBody: { status: 400, message: 'The request body is not valid JSON' },
  BadFormat: { status: 400, message: 'format param must be one of [`json`, `convex_encoded_json`]' },
  MissingIdentifier: { status: 400, message: 'Path or function name not provided in path, e.g. /api/run/messages/list' },
  BadConvexFunctionIdentifier: { status: 400, message: 'Not a valid path to a function' },
  InvalidStoragePath: { status: 400, message: 'Not a valid storage id' },
  Sha256Mismatch: { status: 400, message: 'The body does not match its Digest header' },
  InvalidAuthHeader: { status: 401, message: 'The Authorization header does not hold a valid token' },
  NoAuthProvider: { status: 401, message: 'No auth provider found matching the given token' },
  Unauthenticated: { status: 401, message: 'This route requires a valid token' },
  // As Convex: an Authorization header of an unknown scheme is 400
  // InvalidAdminKey; a wrong admin key is 401 BadAdminKey.
  InvalidAdminKey: { status: 400, message: 'Invalid admin key' },
  InvalidHeaderFailure: { status: 400, message: 'Invalid authentication header' },
  BadAdminKey: { status: 401, message: 'The admin key is not valid for this deployment' },
  StorageTokenInvalid: { status: 401, message: 'The upload token is invalid' },
  StorageTokenExpired: { status: 401, message: 'The upload token has expired' },
  CorsOriginDenied: { status: 403, message: 'This origin is not allowed' },
  Forbidden: { status: 403, message: 'Not allowed' },
  FileNotFound: { status: 404, message: 'File not found' },
  NotFound: { status: 404, message: 'Not found' },
  // No route for the path: text/plain, as Convex answers it.
  NoMatchingRoute: { status: 404, message: 'No matching routes found', plainText: true },
  MethodNotAllowed: { status: 405, message: 'Method not allowed' },
  RequestTimeout: { status: 408, message: 'The request took too long to arrive' },
  PayloadTooLarge: { status: 413, message: 'The request body is over the limit' },
  UnsupportedMediaType: { status: 415, message: 'The request body must be JSON (Content-Type: application/json)' },
  RangeNotSatisfiable: { status: 416, message: 'The requested range is not satisfiable' },
  TooManyRequests: { status: 429, message: 'Too many requests; try again later' },
  HeadersTooLarge: { status: 431, message: 'The request headers are too large' },
  InternalServerError: { status: 500, message: 'Internal error' },
  ResponseTooLarge: { status: 500, message: 'The response body is over the limit' },
  NotImplemented: { status: 501, message: 'Unknown request method (supported: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS)' },
  ServiceUnavailable: { status: 503, message: 'The gateway is shutting down' },
  // rateLimit.onStoreError: deny, and the rate limit store cannot be reached in time.
  RateLimitUnavailable: { status: 503, message: 'The rate limit cannot be checked right now; try again shortly' },
  // The database cannot be reached (restarting, connection lost, no pooled
  // connection free in time): nothing was acknowledged; try again shortly.
  DatabaseUnavailable: { status: 503, message: 'The database is unavailable; try again shortly' },
  // A gateway tier's function tier (backend.kind: remote) failed the call:
  // unreachable (nothing was sent), broke off or answered nonsense (the call
  // may or may not have run), or did not answer within limits.timeout.
  BackendUnavailable: { status: 503, message: 'The function backend cannot be reached; try again shortly' },
  BadGateway: { status: 502, message: 'The function backend broke off, or sent an answer that cannot be used' },
  BackendTimeout: { status: 504, message: 'The function backend did not answer in time' },
  // The disk that holds files or the database is full (ENOSPC, SQLITE_FULL):
  // nothing of the refused write was kept; it works again once space is freed.
  InsufficientStorage: { status: 507, message: 'The disk is full: there is no space left to store this' },
  Timeout: { status: 504, message: 'The handler did not answer in time' },
} as const satisfies Record<string, { status: number; message: string; plainText?: true }>;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** The status of a handler's own failure (Convex's `[Request ID: <id>] Server Error` answer). */
export const HANDLER_FAILURE_STATUS = 500;

const MARK = Symbol.for('portico.GatewayError');

/** An error the gateway answers with `{code, message}` and its status. */
export class GatewayError extends Error {
  readonly status: number;
  /** Extra response headers, e.g. `Allow` on a 405. */
  headers: [string, string][] | undefined;
  /** Extra fields of the JSON body, e.g. `errors` of a request that fails its schema. */
  details: Record<string, unknown> | undefined;

  constructor(
    readonly code: GatewayErrorCode,
    message?: string,
  ) {
    super(message ?? GATEWAY_ERRORS[code].message);
    this.name = 'GatewayError';
    this.status = GATEWAY_ERRORS[code].status;
    (this as any)[MARK] = true;
  }

  withHeaders(headers: [string, string][]): this {
    this.headers = headers;
    return this;
  }

  withDetails(details: Record<string, unknown>): this {
    this.details = details;
    return this;
  }

  toJSON(): { code: string; message: string } {
    return this.details ? { code: this.code, message: this.message, ...this.details } : { code: this.code, message: this.message };
  }

  /** The answer's body and its content type: `{code, message}` JSON, or the bare message for plain-text entries. */
  body(): { type: string; text: string } {
    if ('plainText' in GATEWAY_ERRORS[this.code]) return { type: 'text/plain; charset=utf-8', text: this.message };
    return { type: 'application/json; charset=utf-8', text: JSON.stringify(this.toJSON()) };
  }

  static payloadTooLarge(limit: number): GatewayError {
    return new GatewayError('PayloadTooLarge', `The request body is over this route's limit of ${formatBytes(limit)}`);
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return typeof error === 'object' && error !== null && (error as any)[MARK] === true;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1 && value % 1024 === 0) {
    value /= 1024;
    unit += 1;
  }
  if (value < 10_240) return `${value} ${units[unit]}`;
  // Not a round number of any unit (the function API's 16 MiB of arguments
  // plus its envelope): the exact bytes, and the size a reader can picture.
  let scaled = bytes;
  let big = 0;
  while (scaled >= 1024 && big < units.length - 1) {
    scaled /= 1024;
    big += 1;
  }
  return `${bytes} B (${scaled.toFixed(1)} ${units[big]})`;
}
