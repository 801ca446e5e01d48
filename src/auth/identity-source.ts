import type { UserIdentity } from '../functions/context-types.js';

// Who is calling, as the function backend sees it: resolved only if some
// function asks (see request-identity.ts for the one behind a request's
// Authorization header).

/** The caller's identity, resolved only if some function asks for it. */
export interface IdentitySource {
  /** The verified identity, null without a token; throws for a bad token. */
  get(): Promise<UserIdentity | null>;
}

export const ANONYMOUS: IdentitySource = Object.freeze({ get: async () => null });
