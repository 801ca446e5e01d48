import { GatewayError } from '../../http/errors.js';
import { jsonToConvex, type JSONValue } from '../../values/value.js';
import type { CallRequest, CallResult, FunctionBackend } from '../function-backend.js';
import type { StorageParts } from '../../storage/storage-parts.js';
import { FunctionNameError, parseFunctionName } from '../../functions/names.js';
import { RemoteStorage } from './remote-storage.js';
import { transportFailure } from './transport-failure.js';
import { CALLER_HEADER, IDENTITY_ERROR_HEADER } from './protocol.js';

// Runs functions on another deployment, through its function API, so a
// stateless gateway tier can sit in front of a function tier. Calls carry
// the deployment's admin key, plus what the far side needs to treat them as
// the original caller would have been treated:
//   - the caller's identity (admin "acting as" the user), or the error that
//     verifying it raised, so getUserIdentity() throws there as it would here;
//   - whether the caller was public, so the admin key does not open internal
//     functions to clients of the gateway tier.
// Values and errors cross in convex_encoded_json, so bigints, bytes and
// ConvexError data arrive intact.
//
// When the far side fails, the caller gets a catalogue error, never a
// function error it might mistake for the function's own answer, and never
// part of an answer: the whole body is read and checked before anything is
// returned. 503 BackendUnavailable when nothing could be sent (the call did
// not run), 502 BadGateway when the connection broke off or the answer is
// unusable (the call may have run), 504 BackendTimeout past the timeout.
// The far side's own 503 (its database is down, it is stopping) passes on.

/** Past the gateway's own handler timeout (limits.timeout) nobody is waiting for the answer. */
const DEFAULT_TIMEOUT_MS = 120_000;
/** How much of an unusable answer goes into the error message. */
const SHOWN = 300;
/**
 * The largest answer read from the far side: a result holds at most 16 MiB
 * of value (Convex's limit), plus its envelope and log lines. A tier that
 * sends more is broken, and must not make this tier buffer without end.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

export class RemoteBackend implements FunctionBackend {
  readonly description: string;
  readonly storage: RemoteStorage;

  private readonly timeoutMs: number;

  constructor(
    private readonly url: string,
    private readonly adminKey: string,
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.description = `remote (${url})`;
    this.storage = new RemoteStorage(url, adminKey, this.timeoutMs);
  }

  /** Storage for HTTP actions on this tier: the function tier's files. */
  async storageParts(): Promise<StorageParts> {
    return this.storage.parts();
  }

  async call(request: CallRequest): Promise<CallResult> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': request.caller.requestId };
    let authorization = `Convex ${this.adminKey}`;
    try {
      const identity = await request.caller.identity.get();
      if (identity !== null) authorization += `:${Buffer.from(JSON.stringify(identity)).toString('base64')}`;
    } catch (error) {
      headers[IDENTITY_ERROR_HEADER] = encodeURIComponent((error as Error).message ?? String(error));
    }
    headers.authorization = authorization;
    if (!request.caller.internal) headers[CALLER_HEADER] = 'public';

    let target: { endpoint: string; body: Record<string, JSONValue> };
    try {
      target = endpointFor(request);
    } catch (error) {
      if (error instanceof FunctionNameError) return { status: 'error', errorMessage: error.message, logLines: [] };
      throw error;
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${this.url}/api/${target.endpoint}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...target.body, args: request.args, format: 'convex_encoded_json' }),
        signal,
      });
      status = response.status;
      // The whole answer, before any of it is used: a tier that dies halfway
      // fails the call here instead of handing on half an answer.
      text = await readCapped(response, this.url);
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw transportFailure(error, this.url, this.timeoutMs);
    }
    return this.result(status, text);
  }

  /** The far side's answer as a call result, or the catalogue error it amounts to. */
  private result(status: number, text: string): CallResult {
    let body: Record<string, JSONValue> | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, JSONValue>;
    } catch {
      // Not JSON: reported below with what it was.
    }
    if (status >= 400 && status < 500 && status !== 401 && status !== 403 && typeof body?.code === 'string' && typeof body.message === 'string') {
      // The far side refused the call itself (a malformed function name,
      // arguments over its limit): the caller's mistake, reported as the
      // local backend reports it. 401 and 403 mean this tier's admin key is
      // wrong, which is no caller's doing.
      return { status: 'error', errorMessage: body.message, logLines: [] };
    }
    if (status !== 200 || body === null || (body.status !== 'success' && body.status !== 'error')) {
      const shown = `${status}: ${text.length > SHOWN ? `${text.slice(0, SHOWN)}...` : text}`;
      if (status === 503) throw new GatewayError('BackendUnavailable', `The function backend at ${this.url} is unavailable (${shown})`);
      throw new GatewayError('BadGateway', `The function backend at ${this.url} answered with something other than a function result (${shown})`);
    }
    const logLines = Array.isArray(body.logLines) ? body.logLines.filter((line): line is string => typeof line === 'string') : [];
    const value = body.status === 'success' ? (body.value ?? null) : body.errorData;
    try {
      // Checked here, so that a malformed value is the far side's fault on every path that decodes it later.
      if (value !== undefined) jsonToConvex(value);
    } catch (error) {
      throw new GatewayError('BadGateway', `The function backend at ${this.url} sent a value that is not a Convex value: ${(error as Error).message}`);
    }
    if (body.status === 'success') return { status: 'success', value: value ?? null, logLines };
    const errorMessage = String(body.errorMessage);
    return value !== undefined ? { status: 'error', errorMessage, errorData: value, logLines } : { status: 'error', errorMessage, logLines };
  }

  async close(): Promise<void> {}
}

/**
 * Where a call goes on the far side. A call of any kind (`/api/run` on this
 * tier) goes to the far side's `/api/run/<module>/<export>`, not to its
 * admin-only `/api/function`: that endpoint refuses the public callers this
 * tier forwards, even for public functions, while `/api/run` applies the
 * same public/internal rule as the other endpoints.
 */
function endpointFor(request: CallRequest): { endpoint: string; body: Record<string, JSONValue> } {
  if (request.kind !== 'function') return { endpoint: request.kind, body: { path: request.name } };
  const name = parseFunctionName(request.name);
  const segments = [...name.module.split('/'), name.exportName].map(encodeURIComponent);
  return { endpoint: `run/${segments.join('/')}`, body: {} };
}

/** The body as text, refused (502) once it passes MAX_ANSWER_BYTES. */
async function readCapped(response: Response, url: string): Promise<string> {
  const tooLarge = () => new GatewayError('BadGateway', `The function backend at ${url} sent an answer over ${MAX_ANSWER_BYTES} bytes`);
  if (Number(response.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
