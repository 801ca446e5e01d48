// SQLITE_FULL said plainly: SQLite's own "database or disk is full" names
// neither what failed nor what to do. The code stays SQLITE_FULL, so the
// layers above still recognise a full disk (storage answers 507).

export class DiskFullError extends Error {
  override name = 'DiskFullError';
  readonly code = 'SQLITE_FULL';
}

/** `error` as a DiskFullError when SQLite reported a full disk; otherwise unchanged. */
export function diskFullOr(error: unknown): unknown {
  if ((error as { code?: unknown } | null)?.code !== 'SQLITE_FULL' || error instanceof DiskFullError) return error;
  return new DiskFullError('The disk is full: the database cannot grow, so this write was not kept. Writes work again once space is freed.', { cause: error });
}
