// server.tls: the files exist, parse, belong together and are in date, the
// same check a start and a rotation make (tls-config.ts). Every problem
// points at the `tls` key, since the pair is judged as one.
import { isRecord, record, str, type Unknown } from './raw.js';
import type { Reporter } from './source.js';
import { DEFAULTS } from './types.js';
import { daysUntil, EXPIRY_WARNING_DAYS, loadTlsPair, resolveTls, TlsPairError } from './tls-config.js';

export async function lintTls(data: Unknown, dir: string, report: Reporter, now = new Date()): Promise<void> {
  const server = record(data.server);
  if (!isRecord(server.tls)) {
    if (server.http2 === true) report.atKey('config/ignored-key', ['server', 'http2'], 'server.http2 has no effect without server.tls: HTTP/2 is served over TLS only');
    return;
  }
  const at = ['server', 'tls'];
  const raw = server.tls;
  const cert = str(raw.cert);
  const key = str(raw.key);
  // A missing or mistyped key is the schema's to report.
  if (!cert || !key) return;
  const redirectPort = typeof raw.redirectPort === 'number' ? raw.redirectPort : undefined;
  const port = typeof server.port === 'number' ? server.port : DEFAULTS.port;
  if (redirectPort !== undefined && redirectPort !== 0 && redirectPort === port) {
    report.atKey('tls/redirect-port', at, `server.tls.redirectPort ${redirectPort} is server.port itself`, 'the redirect listener needs a port of its own, such as 80 beside 443');
  }
  const config = resolveTls({ cert, key, ca: str(raw.ca), passphrase: str(raw.passphrase) }, dir)!;
  try {
    const pair = await loadTlsPair(config, now);
    const days = daysUntil(pair.validTo, now);
    if (days < EXPIRY_WARNING_DAYS) {
      report.atKey('tls/expiring', at, `the certificate in server.tls.cert (${pair.subject}) expires in ${days} day${days === 1 ? '' : 's'}, on ${pair.validTo.toISOString()}`, 'renew it; the gateway picks new files up on SIGHUP');
    }
  } catch (error) {
    if (!(error instanceof TlsPairError)) throw error;
    report.atKey(`tls/${error.problem}`, at, error.message);
  }
}
