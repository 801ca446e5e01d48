import { freshDatabase } from '../helpers/postgres.js';
import { localHarness } from './contract-harness.js';
import { storageContract } from './storage-contract.js';

// File bytes and metadata in PostgreSQL (storage.kind: database). SQLite has
// no database storage: with one embedded database there is one gateway
// instance and nothing to share, so the config refuses it.
storageContract('database storage on PostgreSQL', async (t, files) => {
  const url = await freshDatabase(t);
  return url === null ? null : localHarness(t, files, `{ kind: local, database: "${url}" }`, '{ kind: database }');
});
