import { watch } from 'chokidar';
import type { TlsConfig } from '../config/tls-config.js';

// `portico dev` reads the certificate files again when they change, as a
// SIGHUP does for `serve`. chokidar follows files replaced by a rename (the
// way certificate tools write them). The files are the ones the config named
// at start; a reload that names others is a restart's business.

export interface TlsWatch {
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchTlsFiles(tls: TlsConfig | null, changed: (file: string) => void, onError: (error: Error) => void): TlsWatch | null {
  if (tls === null) return null;
  const files = [tls.cert, tls.key, ...(tls.ca ? [tls.ca] : [])];
  const watcher = watch(files, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
  watcher.on('all', (_event, file) => changed(file));
  watcher.on('error', (error) => onError(error as Error));
  return { ready: new Promise((resolve) => watcher.once('ready', () => resolve())), close: () => watcher.close() };
}
