import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

// The keys of a provider whose `jwks` is a file. The file is read once at
// start-up (so a missing or broken one stops `serve` at once), and again
// when a token names a kid it did not have, as a remote JWKS is fetched
// again: rotating keys means rewriting the file, without a restart. A flood
// of made-up kids reads it at most once a second, and a file caught
// half-written leaves the keys already known in place.

const REREAD_COOLDOWN_MS = 1000;

/**
 * A key getter for `jwtVerify` backed by a JWKS file.
 * @example jwtVerify(token, fileKeySet('/etc/portico/jwks.json'))
 */
export function fileKeySet(file: string): JWTVerifyGetKey {
  let keys = createLocalJWKSet(parse(readFileSync(file, 'utf8'), file));
  let readAt = Date.now();
  let reading: Promise<void> | undefined;

  const reread = (): Promise<void> =>
    (reading ??= readFile(file, 'utf8')
      .then((text) => {
        keys = createLocalJWKSet(parse(text, file));
      })
      .catch(() => {})
      .finally(() => {
        readAt = Date.now();
        reading = undefined;
      }));

  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - readAt < REREAD_COOLDOWN_MS) throw error;
      await reread();
      return keys(header, token);
    }
  };
}

function parse(text: string, file: string): JSONWebKeySet {
  const jwks = JSON.parse(text) as JSONWebKeySet;
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) throw new Error(`${file} is not a JWKS: it needs a "keys" array`);
  return jwks;
}
