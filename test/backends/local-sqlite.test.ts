import { backendContract } from './backend-contract.js';
import { openLocalBackend } from './local-harness.js';

// The FunctionBackend contract on the local backend over embedded SQLite.
backendContract('local on SQLite', (_t, files) => openLocalBackend('./.data/db.sqlite', files));
