import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Caller, IdentitySource } from '../backends/function-backend.js';
import { CALLER_HEADER, IDENTITY_ERROR_HEADER } from '../backends/remote/protocol.js';
import { ANONYMOUS } from '../backends/function-backend.js';
import { AuthError, type Authenticator } from '../auth/authenticator.js';
import { fixedIdentity } from '../auth/request-identity.js';
import type { UserIdentity } from '../functions/context-types.js';
import { GatewayError } from '../http/errors.js';

// Who is calling the function API, decided before any function runs:
//   (no header)                         anonymous
//   Authorization: Bearer <jwt>         a user; a bad token is a 401 and nothing runs
//   Authorization: Convex <adminKey>    an admin: may run internal functions
//   Authorization: Convex <key>:<b64>   an admin acting as the user in <b64> (JSON)

export async function apiCaller(
  req: IncomingMessage,
  authenticator: Authenticator,
  adminKey: string | null,
  requestId: string,
  collectLogs: boolean,
): Promise<Caller> {
  const header = req.headers.authorization;
  if (header === undefined || header === '') return { identity: ANONYMOUS, internal: false, requestId, collectLogs };
  if (header.length < 7) throw new GatewayError('InvalidHeaderFailure', 'Invalid authentication header');

  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) {
    try {
      const identity = await authenticator.verify(bearer[1]!);
      return { identity: fixedIdentity(identity), internal: false, requestId, collectLogs };
    } catch (error) {
      if (error instanceof AuthError) throw new GatewayError(error.code, error.message);
      throw error;
    }
  }

  const admin = /^Convex\s+([^:\s]+)(?::(\S+))?\s*$/.exec(header);
  if (!admin) throw new GatewayError('InvalidAdminKey', 'The Authorization header must be "Bearer <jwt>" or "Convex <admin key>"');
  if (adminKey === null || !sameSecret(admin[1]!, adminKey)) {
    throw new GatewayError('BadAdminKey', adminKey === null ? 'This deployment has no admin key (api.adminKey)' : 'The admin key is not valid for this deployment');
  }
  const actingAs = admin[2] === undefined ? null : decodeActingAs(admin[2]);
  // A gateway tier forwarding its own callers (backend.kind: remote) says
  // who they were; see backends/remote/protocol.ts.
  const identityError = req.headers[IDENTITY_ERROR_HEADER];
  const identity = typeof identityError === 'string' ? failingIdentity(decodeURIComponent(identityError)) : fixedIdentity(actingAs);
  return { identity, internal: req.headers[CALLER_HEADER] !== 'public', requestId, collectLogs };
}

/** Whether the request carries this deployment's admin key. */
export function hasAdminKey(req: IncomingMessage, adminKey: string | null): boolean {
  const match = /^Convex\s+([^:\s]+)/.exec(req.headers.authorization ?? '');
  return adminKey !== null && match !== null && sameSecret(match[1]!, adminKey);
}

function failingIdentity(message: string): IdentitySource {
  const failure = new AuthError('InvalidAuthHeader', message);
  return { get: () => Promise.reject(failure) };
}

function decodeActingAs(encoded: string): UserIdentity {
  try {
    const identity = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as UserIdentity;
    if (typeof identity !== 'object' || identity === null) throw new Error('not an object');
    const subject = String(identity.subject ?? '');
    const issuer = String(identity.issuer ?? '');
    return { ...identity, subject, issuer, tokenIdentifier: identity.tokenIdentifier ?? `${issuer}|${subject}` };
  } catch {
    throw new GatewayError('InvalidAdminKey', 'The identity after the admin key must be base64 of a JSON object');
  }
}

/** Compares secrets in constant time. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
