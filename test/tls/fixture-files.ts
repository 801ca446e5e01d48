import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issue, makeCa } from './certs.js';

// PEM texts for config fixtures: a valid pair, another key, an expired pair
// and one that expires in 10 days, all from one throwaway authority.

export interface PemPair {
  cert: string;
  key: string;
}

export function tlsFixtureFiles(): { valid: PemPair; other: PemPair; expired: PemPair; expiring: PemPair } {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-tls-'));
  try {
    const ca = makeCa(path.join(dir, 'ca'));
    const out = path.join(dir, 'out');
    const read = (files: { cert: string; key: string }): PemPair => ({ cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') });
    const day = 86_400_000;
    return {
      valid: read(issue(ca, out, 'valid')),
      other: read(issue(ca, out, 'other')),
      expired: read(issue(ca, out, 'expired', { start: new Date(Date.now() - 60 * day), end: new Date(Date.now() - day) })),
      expiring: read(issue(ca, out, 'expiring', { end: new Date(Date.now() + 10 * day) })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
