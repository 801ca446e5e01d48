import { localHarness } from './contract-harness.js';
import { storageContract } from './storage-contract.js';

// fs storage, metadata on embedded SQLite: the default.
storageContract('fs on SQLite', (t, files) => localHarness(t, files, '{ kind: local, database: ./.data/db.sqlite }', '{ kind: fs, dir: ./.data/storage }'));
