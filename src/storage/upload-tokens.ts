import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../database/store.js';

// Tokens of generateUploadUrl(): an expiry and a nonce, signed with HMAC-SHA256.
// The key is kept in the database, so every gateway instance on the same
// database accepts every other's tokens, and a restart does not invalidate
// URLs already handed out.

const TTL_MS = 60 * 60 * 1000;
const SECRET_KEY = 'storage.upload_token_secret';

export type TokenCheck = 'valid' | 'invalid' | 'expired';

export class UploadTokens {
  private constructor(private readonly secret: Buffer) {}

  static async open(store: Store): Promise<UploadTokens> {
    const secret = await store.initMeta(SECRET_KEY, randomBytes(32).toString('base64'));
    return new UploadTokens(Buffer.from(secret, 'base64'));
  }

  issue(now = Date.now()): string {
    const payload = Buffer.from(`${now + TTL_MS}.${randomBytes(9).toString('base64url')}`).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  check(token: unknown, now = Date.now()): TokenCheck {
    if (typeof token !== 'string') return 'invalid';
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined) return 'invalid';
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
    const expiry = Number(Buffer.from(payload, 'base64url').toString('utf8').split('.')[0]);
    if (!Number.isFinite(expiry)) return 'invalid';
    return expiry < now ? 'expired' : 'valid';
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url');
  }
}
