import { freshDatabase } from '../helpers/postgres.js';
import { localHarness } from './contract-harness.js';
import { storageContract } from './storage-contract.js';

// fs storage, metadata on PostgreSQL (a new database; skipped loudly without a server).
storageContract('fs on PostgreSQL', async (t, files) => {
  const url = await freshDatabase(t);
  return url === null ? null : localHarness(t, files, `{ kind: local, database: "${url}" }`, '{ kind: fs, dir: ./.data/storage }');
});
