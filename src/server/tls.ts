// server.tls at start and on reload. A start with files that do not load is
// refused; a rotation with such files is refused too, loudly, and the pair
// already in use keeps serving. validate checks the same (config/lint-tls.ts).
import type { Logger } from 'pino';
import type { PorticoConfig } from '../config/types.js';
import { daysUntil, EXPIRY_WARNING_DAYS, loadTlsPair, TlsPairError } from '../config/tls-config.js';
import type { HostTls, HttpHost } from './http-host.js';
import { StartupError } from './startup-error.js';

/** The listener's TLS settings, or null for plain HTTP. Throws StartupError when the pair does not load. */
export async function hostTls(config: PorticoConfig): Promise<HostTls | null> {
  const tls = config.server.tls;
  if (tls === null) return null;
  try {
    const pair = await loadTlsPair(tls);
    return { secure: pair.options, http2: config.server.http2, redirectPort: tls.redirectPort };
  } catch (error) {
    if (error instanceof TlsPairError) throw new StartupError(error.message, { cause: error });
    throw error;
  }
}

/**
 * Reads the certificate files again and, when they load, gives them to new
 * connections. Returns whether the new pair is in use.
 */
export async function rotateTls(host: HttpHost, config: PorticoConfig, logger: Logger): Promise<boolean> {
  const tls = config.server.tls;
  if (tls === null) return false;
  try {
    const pair = await loadTlsPair(tls);
    host.setSecureContext(pair.options);
    const days = daysUntil(pair.validTo);
    logger.info({ event: 'tls-rotated', subject: pair.subject, validTo: pair.validTo.toISOString() }, `certificate loaded: ${pair.subject}, valid until ${pair.validTo.toISOString()}`);
    if (days < EXPIRY_WARNING_DAYS) logger.warn({ event: 'tls-expiring', validTo: pair.validTo.toISOString() }, `the certificate expires in ${days} days`);
    return true;
  } catch (error) {
    logger.error({ event: 'tls-refused', err: error }, `certificate not rotated: ${(error as Error).message}; the previous certificate keeps serving`);
    return false;
  }
}
