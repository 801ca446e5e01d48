import type { JWTPayload } from 'jose';
import type { UserIdentity } from '../functions/context-types.js';
import type { Value } from '../values/value.js';

// A verified token's claims as Convex presents them to functions:
// tokenIdentifier "<iss>|<sub>", subject, issuer, the OpenID standard claims
// in camelCase, and every other claim as a field of its own (nested objects
// flattened with dots: identity["properties.id"]).

const STANDARD: Record<string, string> = {
  name: 'name',
  given_name: 'givenName',
  family_name: 'familyName',
  nickname: 'nickname',
  preferred_username: 'preferredUsername',
  profile: 'profileUrl',
  picture: 'pictureUrl',
  website: 'websiteUrl',
  email: 'email',
  email_verified: 'emailVerified',
  gender: 'gender',
  birthdate: 'birthday',
  zoneinfo: 'timezone',
  locale: 'language',
  phone_number: 'phoneNumber',
  phone_number_verified: 'phoneNumberVerified',
  address: 'address',
  updated_at: 'updatedAt',
};

// Claims about the token itself, not the user.
const DROPPED = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'fva']);

export function identityFromClaims(claims: JWTPayload): UserIdentity {
  const issuer = String(claims.iss);
  const subject = String(claims.sub);
  const identity: UserIdentity = { tokenIdentifier: `${issuer}|${subject}`, subject, issuer };
  for (const [claim, value] of Object.entries(claims)) {
    if (DROPPED.has(claim) || value === undefined) continue;
    const mapped = STANDARD[claim];
    if (mapped === 'address' && typeof value === 'object' && value !== null) {
      identity.address = String((value as { formatted?: unknown }).formatted ?? JSON.stringify(value));
    } else if (mapped === 'updatedAt' && typeof value === 'number') {
      identity.updatedAt = new Date(value * 1000).toISOString();
    } else if (mapped) {
      identity[mapped] = value as Value;
    } else {
      flatten(identity, claim, value);
    }
  }
  return identity;
}

function flatten(target: UserIdentity, key: string, value: unknown): void {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [inner, innerValue] of Object.entries(value)) flatten(target, `${key}.${inner}`, innerValue);
  } else {
    target[key] = value as Value;
  }
}
