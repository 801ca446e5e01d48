// server.tls and server.http2: the raw shape, the resolved shape, and the one
// check of a certificate/key pair that validate, start and rotation share.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';

export interface RawTls {
  cert: string;
  key: string;
  ca?: string;
  passphrase?: string;
  redirectPort?: number;
}

export interface TlsConfig {
  /** Absolute paths of the PEM files. */
  cert: string;
  key: string;
  ca: string | null;
  passphrase: string | null;
  /** A plain-HTTP port answering 308 to https, or null. */
  redirectPort: number | null;
}

/** TLS 1.0 and 1.1 are refused (RFC 8996); ciphers are Node's defaults. */
export const MIN_TLS_VERSION = 'TLSv1.2';

/** A warning when a certificate has fewer days left than this. */
export const EXPIRY_WARNING_DAYS = 30;

export function resolveTls(raw: RawTls | undefined, dir: string): TlsConfig | null {
  if (raw === undefined) return null;
  return {
    cert: path.resolve(dir, raw.cert),
    key: path.resolve(dir, raw.key),
    ca: raw.ca === undefined ? null : path.resolve(dir, raw.ca),
    passphrase: raw.passphrase ?? null,
    redirectPort: raw.redirectPort ?? null,
  };
}

/** HTTP/2 is offered over TLS unless turned off; there is no cleartext HTTP/2. */
export function resolveHttp2(raw: boolean | undefined, tlsOn: boolean): boolean {
  return tlsOn && raw !== false;
}

/** A certificate/key pair that loads, with what a check reports about it. */
export interface TlsPair {
  options: tls.SecureContextOptions;
  /** The leaf certificate's end of validity. */
  validTo: Date;
  subject: string;
}

export type TlsProblem = 'unreadable' | 'invalid' | 'mismatch' | 'expired';

/** Why a pair cannot be used; `key` names the setting at fault. */
export class TlsPairError extends Error {
  override name = 'TlsPairError';
  constructor(
    readonly key: 'cert' | 'key' | 'ca' | 'passphrase',
    readonly problem: TlsProblem,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads and checks the files of `config`: each is readable and PEM, the key
 * opens (with the passphrase) and belongs to the certificate, and the
 * certificate is valid now. Throws TlsPairError saying which and why.
 */
export async function loadTlsPair(config: TlsConfig, now = new Date()): Promise<TlsPair> {
  const read = async (key: 'cert' | 'key' | 'ca', file: string): Promise<Buffer> => {
    try {
      return await readFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new TlsPairError(key, 'unreadable', `cannot read server.tls.${key} ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
    }
  };
  const [cert, key, ca] = await Promise.all([read('cert', config.cert), read('key', config.key), config.ca ? read('ca', config.ca) : null]);
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new TlsPairError('cert', 'invalid', `server.tls.cert ${config.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new TlsPairError('key', 'invalid', `server.tls.key ${config.key} holds no PEM private key`);
  if (ca && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new TlsPairError('ca', 'invalid', `server.tls.ca ${config.ca} holds no PEM certificate`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new TlsPairError('cert', 'invalid', `server.tls.cert ${config.cert} does not parse: ${(error as Error).message}`);
  }
  const options: tls.SecureContextOptions = { cert, key, minVersion: MIN_TLS_VERSION };
  if (ca) options.ca = ca;
  if (config.passphrase !== null) options.passphrase = config.passphrase;
  try {
    // OpenSSL checks here that the key opens and matches the certificate.
    tls.createSecureContext(options);
  } catch (error) {
    throw pairError(error as Error & { code?: string; reason?: string }, config);
  }
  const validTo = new Date(leaf.validTo);
  const validFrom = new Date(leaf.validFrom);
  if (validTo.getTime() <= now.getTime()) throw new TlsPairError('cert', 'expired', `server.tls.cert ${config.cert} expired on ${validTo.toISOString()}`);
  if (validFrom.getTime() > now.getTime()) throw new TlsPairError('cert', 'expired', `server.tls.cert ${config.cert} is not valid before ${validFrom.toISOString()}`);
  return { options, validTo, subject: leaf.subject.replace(/\n/g, ', ') };
}

function pairError(error: Error & { code?: string; reason?: string }, config: TlsConfig): TlsPairError {
  const text = `${error.reason ?? ''} ${error.message}`.toLowerCase();
  if (text.includes('key values mismatch')) return new TlsPairError('key', 'mismatch', `server.tls.key ${config.key} does not belong to the certificate in ${config.cert}`);
  if (text.includes('bad decrypt') || text.includes('bad password') || text.includes('interrupted or cancelled') || text.includes('passphrase')) {
    return new TlsPairError(config.passphrase === null ? 'key' : 'passphrase', 'invalid', config.passphrase === null ? `server.tls.key ${config.key} is encrypted: set server.tls.passphrase` : `server.tls.passphrase does not open ${config.key}`);
  }
  if (text.includes('private key') || (text.includes('pem') && text.includes('key'))) return new TlsPairError('key', 'invalid', `server.tls.key ${config.key} does not load: ${error.message}`);
  return new TlsPairError('cert', 'invalid', `server.tls.cert ${config.cert} and key ${config.key} do not load: ${error.message}`);
}

/** Whole days from `now` to `date`, rounded down. */
export function daysUntil(date: Date, now = new Date()): number {
  return Math.floor((date.getTime() - now.getTime()) / 86_400_000);
}
