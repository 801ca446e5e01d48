// Which failures mean "the database is not there right now" (answered 503,
// and worth retrying on a fresh connection where that is safe), as opposed
// to a fault of the statement or of the function. Recognised by code only:
// PostgreSQL's SQLSTATE, or Node's socket error code.

const SERVER_CODES = new Set([
  '57P01', // admin_shutdown: the server is stopping, or pg_terminate_backend
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting up
  '53300', // too_many_connections
]);

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // Class 08: connection exception.
  return SERVER_CODES.has(code) || SOCKET_CODES.has(code) || code.startsWith('08');
}
