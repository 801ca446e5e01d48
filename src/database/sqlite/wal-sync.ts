import { close, fdatasync, fsync, open } from 'node:fs';
import path from 'node:path';

// Makes committed SQLite transactions durable without blocking the event
// loop: an fdatasync of the write-ahead log on libuv's thread pool (see
// write-lane.ts for why SQLite's own synchronous=FULL is not used).
//
// A sync covers every write made to the file before it starts, so callers
// share syncs: one that arrives while a sync runs waits for the next one,
// which starts after it and therefore covers its commit; any number of
// callers in the meantime share that same next sync.

export class WalSync {
  private fd: number | null = null;
  private running: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  constructor(private readonly walFile: string) {}

  /** Resolves once everything committed before this call is on disk. */
  durable(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running.then(noop, noop).then(() => {
      this.queued = null;
      return this.start();
    });
    return this.queued;
  }

  async close(): Promise<void> {
    await Promise.all([this.running, this.queued].map((sync) => sync?.catch(noop)));
    if (this.fd !== null) await callback<void>((done) => close(this.fd!, done));
    this.fd = null;
  }

  private start(): Promise<void> {
    const sync = this.sync().finally(() => {
      if (this.running === sync) this.running = null;
    });
    this.running = sync;
    return sync;
  }

  private async sync(): Promise<void> {
    if (this.fd === null) {
      // The log exists once something was committed. Its directory entry is
      // made durable once, like the file's contents at every sync.
      this.fd = await callback<number>((done) => open(this.walFile, 'r', done));
      const directory = await callback<number>((done) => open(path.dirname(this.walFile), 'r', done));
      try {
        await callback<void>((done) => fsync(directory, done));
      } finally {
        await callback<void>((done) => close(directory, done));
      }
    }
    // fdatasync: the log's contents and length, without its timestamps
    // (SQLite reuses the log in place, so most syncs change no length).
    const fd = this.fd;
    await callback<void>((done) => fdatasync(fd, done));
  }
}

function callback<T>(run: (done: (error: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}

function noop(): void {}
