import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthProviderConfig } from '../config/types.js';
import type { UserIdentity } from '../functions/context-types.js';
import { fileKeySet } from './file-key-set.js';
import { identityFromClaims } from './identity.js';

// Verifies `Authorization: Bearer <jwt>` against the providers of
// routes.yaml (jose does the cryptography). The provider is picked by the
// token's issuer; its audience, algorithms and expiry are enforced. Remote
// JWKS are cached and fetched again when a token names an unknown `kid`, at
// most once per cooldown, so a flood of made-up kids cannot hammer the
// provider. Verified tokens are remembered until they expire; each caller
// gets its own copy of the identity, so a function that edits the object it
// was given changes nothing for the next request with the same token.

export type AuthErrorCode = 'InvalidAuthHeader' | 'NoAuthProvider' | 'Unauthenticated';

export class AuthError extends Error {
  override name = 'AuthError';
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

interface Provider {
  config: AuthProviderConfig;
  issuer: string;
  keys: JWTVerifyGetKey;
}

const CLOCK_TOLERANCE_SECONDS = 5;
const CACHE_LIMIT = 10_000;

export class Authenticator {
  private readonly providers: Provider[];
  private readonly verified = new Map<string, { identity: UserIdentity; expiresAt: number }>();

  constructor(configs: readonly AuthProviderConfig[]) {
    this.providers = configs.map((config) => ({ config, issuer: normalizeIssuer(config.issuer), keys: keySet(config.jwks) }));
  }

  get enabled(): boolean {
    return this.providers.length > 0;
  }

  /** The identity in a bearer token; throws AuthError when it is not valid. */
  async verify(token: string): Promise<UserIdentity> {
    const cached = this.verified.get(token);
    if (cached && cached.expiresAt > Date.now()) return structuredClone(cached.identity);

    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: ReturnType<typeof decodeJwt>;
    try {
      header = decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      throw new AuthError('InvalidAuthHeader', 'Could not parse JWT payload. Check that the token is a valid JWT format (three base64url parts separated by dots).');
    }
    if (!header.alg || header.alg === 'none') throw new AuthError('InvalidAuthHeader', 'Unsigned tokens (alg "none") are refused');
    if (typeof claims.iss !== 'string') throw new AuthError('InvalidAuthHeader', 'The token has no iss (issuer) claim');
    const provider = this.providers.find((candidate) => candidate.issuer === normalizeIssuer(claims.iss!));
    if (!provider) {
      throw new AuthError('NoAuthProvider', `No auth provider found matching the given token (issuer ${JSON.stringify(claims.iss)}); check auth.providers in routes.yaml`);
    }
    if (!provider.config.algorithms.includes(header.alg)) {
      throw new AuthError('InvalidAuthHeader', `Algorithm ${header.alg} is not accepted for issuer ${provider.config.issuer} (accepted: ${provider.config.algorithms.join(', ')})`);
    }
    try {
      // The issuer is not left to jose, which compares it exactly: it was
      // matched above without trailing slashes, as Convex matches it, and
      // the signature now vouches for the claim that was matched.
      const { payload } = await jwtVerify(token, provider.keys, {
        audience: provider.config.audience ?? undefined,
        algorithms: provider.config.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['iss', 'sub', 'exp'],
      });
      const identity = identityFromClaims(payload);
      this.remember(token, identity, payload.exp!);
      return structuredClone(identity);
    } catch (error) {
      throw translate(error);
    }
  }

  private remember(token: string, identity: UserIdentity, exp: number): void {
    if (this.verified.size >= CACHE_LIMIT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { identity, expiresAt: exp * 1000 });
  }
}

function translate(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  if (error instanceof errors.JWTExpired) return new AuthError('Unauthenticated', 'Could not verify token claim: the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) return new AuthError('InvalidAuthHeader', `Could not verify token claim: ${error.message}`);
  if (error instanceof errors.JWKSNoMatchingKey) return new AuthError('InvalidAuthHeader', 'No key of the provider matches the token (unknown kid)');
  if (error instanceof errors.JWSSignatureVerificationFailed) return new AuthError('InvalidAuthHeader', 'The token signature is not valid');
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthError('InvalidAuthHeader', error.message);
  return new AuthError('InvalidAuthHeader', `The token is not valid: ${(error as Error)?.message ?? String(error)}`);
}

function keySet(jwks: string): JWTVerifyGetKey {
  if (/^https?:\/\//.test(jwks)) {
    return reportingOutages(createRemoteJWKSet(new URL(jwks), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 }));
  }
  return fileKeySet(jwks);
}

/**
 * A provider whose keys cannot be fetched (down, not 200, not a JWKS, too
 * slow) makes tokens unverifiable, not invalid: the caller is told so,
 * rather than that its token is bad.
 */
function reportingOutages(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (!isFetchFailure(error)) throw error;
      const reason = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
      throw new AuthError('Unauthenticated', `Could not fetch the provider's keys: ${reason}`);
    }
  };
}

/**
 * What fetching a JWKS throws: a network error, a timeout, a set that is not
 * a JWKS, or jose's generic error (not 200, not JSON). Anything else is about
 * the token (no key for its kid, an unusable key) and is reported as such.
 */
function isFetchFailure(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true;
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === errors.JOSEError.code;
}

/** Issuers compare without a trailing slash, as in Convex. */
function normalizeIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}
