import path from 'node:path';
import { Worker } from 'node:worker_threads';

// SQLite checkpoints (copying the write-ahead log into the database file and
// syncing both) happen inside a COMMIT by default, every 1,000 pages: a
// 2-7 ms stall of the event loop every few thousand mutations, measured
// here. A worker thread checkpoints instead, a few times a second; the
// writer's automatic checkpoint stays, at a higher threshold, as a fallback.

const WORKER = new URL(`./checkpoint-worker${path.extname(new URL(import.meta.url).pathname)}`, import.meta.url);
const INTERVAL_MS = 250;

export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(file: string) {
    this.worker = new Worker(WORKER, { workerData: { file, intervalMs: INTERVAL_MS } });
    // A checkpointer that fails leaves the fallback in charge; nothing to report to a request.
    this.worker.on('error', () => {});
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  async close(): Promise<void> {
    // While it runs the worker does not keep the process alive; while it is
    // being stopped it does, or the process could exit mid-close.
    this.worker.ref();
    this.worker.postMessage('close');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 2000, false)))]);
    clearTimeout(timer);
    // A worker that did not stop in time (still starting on a loaded
    // machine) is ended: left referenced, it would keep the process alive.
    // Cutting a checkpoint short is safe; the log keeps every commit.
    if (!stopped) await this.worker.terminate();
  }
}
