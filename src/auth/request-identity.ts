import { ANONYMOUS, type IdentitySource } from './identity-source.js';
import type { UserIdentity } from '../functions/context-types.js';
import { AuthError, type Authenticator } from './authenticator.js';

// The identity behind a request's Authorization header, verified the first
// time something asks for it (most HTTP actions never do, and verifying a
// signature is the costliest thing a request could do). As in Convex, a bad
// token does not stop an HTTP action: asking for the identity throws.

export function identityFromHeader(authenticator: Authenticator, header: string | undefined): IdentitySource {
  if (header === undefined || header === '') return ANONYMOUS;
  let verified: Promise<UserIdentity | null> | undefined;
  return {
    get() {
      verified ??= verifyHeader(authenticator, header);
      return verified;
    },
  };
}

async function verifyHeader(authenticator: Authenticator, header: string): Promise<UserIdentity> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new AuthError('InvalidAuthHeader', 'The Authorization header must be "Bearer <token>"');
  return authenticator.verify(match[1]!);
}

/** A fixed identity (an admin acting as a user). */
export function fixedIdentity(identity: UserIdentity | null): IdentitySource {
  const value = Promise.resolve(identity);
  return { get: () => value };
}
