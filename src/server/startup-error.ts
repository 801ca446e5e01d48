import type { BackendConfig } from '../config/types.js';

// A start that fails because of the machine around Portico, not the project
// and not Portico itself: the port is taken, the database is down or refuses
// the login. The CLI prints these as one line and exits 1; they are the
// operator's to fix, and a stack trace would only suggest a bug.

export class StartupError extends Error {
  override name = 'StartupError';
}

/**
 * Whether `error` comes from the environment: Node's system errors carry a
 * `syscall` (ECONNREFUSED, EADDRINUSE, EACCES...), PostgreSQL's errors a
 * `severity` next to their SQLSTATE `code` (a wrong password, no such
 * database).
 */
export function isEnvironmentError(error: unknown): error is Error & { code?: string } {
  if (typeof error !== 'object' || error === null) return false;
  const fields = error as { syscall?: unknown; code?: unknown; severity?: unknown };
  return typeof fields.syscall === 'string' || (typeof fields.code === 'string' && typeof fields.severity === 'string');
}

/**
 * The environment's error behind `error`: itself, or the first of its causes
 * that is one (a database layer wraps the refused connection in an error of
 * its own, e.g. "Cannot connect to PostgreSQL"); null when there is none.
 */
export function environmentCause(error: unknown): (Error & { code?: string }) | null {
  for (let current = error, depth = 0; current !== undefined && depth < 5; current = (current as { cause?: unknown } | null)?.cause, depth++) {
    if (isEnvironmentError(current)) return current;
  }
  return null;
}

/** The backend as an operator would recognise it, without a password. */
export function describeBackend(backend: BackendConfig): string {
  if (backend.kind === 'remote') return `the remote backend at ${backend.url}`;
  if (backend.database.kind === 'sqlite') return `the SQLite database ${backend.database.file}`;
  return `the PostgreSQL database ${redactPassword(backend.database.url)}`;
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'at the configured URL';
  }
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not available on this machine',
};

/** A listen failure, said in words. */
export function listenFailure(error: Error & { code?: string }, host: string, port: number): StartupError {
  const reason = (error.code && LISTEN_REASONS[error.code]) ?? error.message;
  return new StartupError(`cannot listen on ${host}:${port}: ${reason}`, { cause: error });
}
