import type { FileChunks } from '../store.js';
import type { ConnectionPool } from './connection-pool.js';
import { pgTable } from './identifiers.js';

// File bytes for storage.kind: database, as fixed-size chunk rows of one
// table. Each statement autocommits on a pooled connection of its own: the
// bytes of a file are written before its metadata commits (see
// storage/database-storage.ts), so they never sit inside a user's
// transaction.

export class PostgresFileChunks implements FileChunks {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly tableNumber: (table: string) => Promise<number | null>,
  ) {}

  async put(storageId: string, seq: number, bytes: Uint8Array): Promise<void> {
    await this.pool.query('INSERT INTO _portico_file_chunks (storage_id, seq, bytes) VALUES ($1, $2, $3)', [storageId, seq, bytes]);
  }

  async get(storageId: string, from: number, to: number): Promise<Buffer[]> {
    const { rows } = await this.pool.query<{ bytes: Buffer }>(
      'SELECT bytes FROM _portico_file_chunks WHERE storage_id = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq',
      [storageId, from, to],
    );
    return rows.map((row) => row.bytes);
  }

  async delete(storageId: string): Promise<void> {
    await this.pool.query('DELETE FROM _portico_file_chunks WHERE storage_id = $1', [storageId]);
  }

  async orphans(ageMs: number): Promise<string[]> {
    // Before _storage has a document, it has no table either.
    if ((await this.tableNumber('_storage')) === null) {
      const { rows } = await this.pool.query<{ storage_id: string }>(
        'SELECT DISTINCT storage_id FROM _portico_file_chunks WHERE written_at < now() - make_interval(secs => $1)',
        [ageMs / 1000],
      );
      return rows.map((row) => row.storage_id);
    }
    const { rows } = await this.pool.query<{ storage_id: string }>(
      `SELECT DISTINCT c.storage_id FROM _portico_file_chunks c
        WHERE c.written_at < now() - make_interval(secs => $1)
          AND NOT EXISTS (SELECT 1 FROM ${pgTable('_storage')} s WHERE s.id = c.storage_id)`,
      [ageMs / 1000],
    );
    return rows.map((row) => row.storage_id);
  }
}
