import type { JSONValue } from '../../values/value.js';
import type { CallRequest, CallResult, FunctionBackend } from '../function-backend.js';
import type { StorageParts } from '../../server/resources.js';
import { FunctionNameError, parseFunctionName } from '../../functions/names.js';
import { RemoteStorage } from './remote-storage.js';
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

const CALL_TIMEOUT_MS = 5 * 60_000;

export class RemoteBackend implements FunctionBackend {
  readonly description: string;
  readonly storage: RemoteStorage;

  constructor(
    private readonly url: string,
    private readonly adminKey: string,
  ) {
    this.description = `remote (${url})`;
    this.storage = new RemoteStorage(url, adminKey);
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
    let response: Response;
    try {
      response = await fetch(`${this.url}/api/${target.endpoint}`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...target.body, args: request.args, format: 'convex_encoded_json' }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (error) {
      return { status: 'error', errorMessage: `The function backend at ${this.url} could not be reached: ${(error as Error).message}`, logLines: [] };
    }
    const text = await response.text();
    let body: Record<string, JSONValue>;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 'error', errorMessage: `The function backend answered ${response.status} with a body that is not JSON`, logLines: [] };
    }
    const logLines = Array.isArray(body.logLines) ? (body.logLines as string[]) : [];
    if (response.ok && body.status === 'success') return { status: 'success', value: body.value ?? null, logLines };
    if (response.ok && body.status === 'error') {
      return body.errorData !== undefined
        ? { status: 'error', errorMessage: String(body.errorMessage), errorData: body.errorData, logLines }
        : { status: 'error', errorMessage: String(body.errorMessage), logLines };
    }
    return { status: 'error', errorMessage: `The function backend refused the call (${response.status}): ${text}`, logLines };
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
