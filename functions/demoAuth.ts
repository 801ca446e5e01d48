import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { httpAction } from 'portico';

// A stand-in identity provider, so the example's `auth: required` route can
// be tried without an external one: GET /demo-auth/jwks.json publishes a
// key, POST /demo-auth/token {"name": "ada"} signs a token with it. The key
// lives in this process only (a restart invalidates tokens), and anyone can
// get a token: for trying things out, never for production.

const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'demo', alg: 'ES256', use: 'sig' };

export const jwks = httpAction(async () => Response.json({ keys: [jwk] }));

export const token = httpAction(async (_ctx, request) => {
  const { name } = (await request.json().catch(() => ({}))) as { name?: unknown };
  if (typeof name !== 'string' || name.length === 0) return Response.json({ code: 'BadRequest', message: 'Send {"name": "..."}' }, { status: 400 });
  // Must equal the provider's issuer in routes.yaml.
  const issuer = 'portico-demo-auth';
  const jwt = await new SignJWT({ name })
    .setProtectedHeader({ alg: 'ES256', kid: 'demo', typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(name.toLowerCase().replace(/[^a-z0-9]+/g, '-'))
    .setAudience('portico-example')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);
  return Response.json({ token: jwt, issuer });
});
