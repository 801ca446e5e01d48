import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// Certificates for the TLS tests, made with openssl: a certificate authority
// of the test's own and server certificates it signs for localhost and
// 127.0.0.1, valid, expiring soon, expired, or encrypted with a passphrase.

export interface TestCa {
  dir: string;
  cert: string;
  key: string;
  /** The CA certificate, PEM. */
  pem: string;
  /** base64 sha256 of the CA's SubjectPublicKeyInfo, as Chromium's SPKI lists take it. */
  spki: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(dir: string, name = 'Portico Test CA'): TestCa {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', `/CN=${name}`, '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'serial'), '1000\n');
  writeFileSync(
    path.join(dir, 'ca.cnf'),
    `[ ca ]\ndefault_ca = test\n[ test ]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[ any ]\ncommonName = supplied\n[ server ]\nsubjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n`,
  );
  const pem = readFileSync(path.join(dir, 'ca.crt'), 'utf8');
  const spki = createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { dir, cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key'), pem, spki };
}

export interface IssueOptions {
  /** Validity, as openssl ca dates (YYYYMMDDHHMMSSZ); default now for 90 days. */
  start?: Date;
  end?: Date;
  /** Encrypts the key with this passphrase. */
  passphrase?: string;
  commonName?: string;
}

/** Writes `<name>.crt` and `<name>.key` into `outDir`; returns their paths and the serial. */
export function issue(ca: TestCa, outDir: string, name: string, options: IssueOptions = {}): { cert: string; key: string; serial: string } {
  mkdirSync(outDir, { recursive: true });
  const key = path.join(outDir, `${name}.key`);
  const cert = path.join(outDir, `${name}.crt`);
  const csr = path.join(outDir, `${name}.csr`);
  const keyArgs = options.passphrase ? ['-passout', `pass:${options.passphrase}`] : ['-nodes'];
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', ...keyArgs, '-keyout', key, '-out', csr, '-subj', `/CN=${options.commonName ?? 'localhost'}`], outDir);
  const start = options.start ?? new Date(Date.now() - 60_000);
  const end = options.end ?? new Date(Date.now() + 90 * 86_400_000);
  openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-extensions', 'server', '-in', csr, '-out', cert, '-notext', '-startdate', asn1(start), '-enddate', asn1(end)], ca.dir);
  return { cert, key, serial: new X509Certificate(readFileSync(cert)).serialNumber };
}

function asn1(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}
