import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

// Runs in a worker thread (see checkpointer.ts): copies committed pages from
// the write-ahead log into the database file, on its own connection, so the
// event loop never waits for it.

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file);
db.pragma('busy_timeout = 1000');
// NORMAL: the log and the database file are synced around each checkpoint.
db.pragma('synchronous = NORMAL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

const timer = setInterval(() => {
  try {
    checkpoint.run();
  } catch {
    // Busy or transient: the next tick tries again, and the writer's own
    // automatic checkpoint is the fallback.
  }
}, intervalMs);

parentPort!.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort!.close();
});
