import { GatewayError } from '../http/errors.js';

// A full disk, however it shows: the filesystem's ENOSPC (or a quota's
// EDQUOT) under fs storage and spooled files, SQLITE_FULL from SQLite, and
// PostgreSQL's disk_full (SQLSTATE 53100) under database storage and
// metadata. Each becomes 507 InsufficientStorage on the upload endpoint and a
// plain "the disk is full" error inside functions; whatever part of the
// refused file was written is removed by the caller first.

const CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

export function isDiskFull(error: unknown): boolean {
  return typeof error === 'object' && error !== null && CODES.has(String((error as { code?: unknown }).code));
}

/** `error` as the catalogue's InsufficientStorage when it is a full disk; otherwise unchanged. */
export function asDiskFull(error: unknown): unknown {
  return isDiskFull(error) ? new GatewayError('InsufficientStorage') : error;
}
