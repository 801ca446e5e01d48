import { freshDatabase } from '../helpers/postgres.js';
import { backendContract } from './backend-contract.js';
import { openLocalBackend } from './local-harness.js';

// The FunctionBackend contract on the local backend over PostgreSQL (a new
// database; skipped loudly without a server).
backendContract('local on PostgreSQL', async (t, files) => {
  const url = await freshDatabase(t);
  return url ? openLocalBackend(url, files) : null;
});
