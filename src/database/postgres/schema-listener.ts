import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseHealth, HealthSource } from '../health.js';

// One connection of its own, outside the pool, that LISTENs for schema
// changes and commits announced by other instances, and tells
// /_portico/health whether the server is there. When the server goes away
// (a restart, a killed backend) it reconnects by itself, and drops the
// caches on its return, since announcements sent meanwhile were lost.
//
// PostgreSQL delivers notifications in the order their transactions
// committed, on every channel. So a NOTIFY this connection sends to itself
// (a barrier) comes back after every announcement of a commit that finished
// before it was sent: once it is back, this instance has heard of them all.

export const SCHEMA_CHANNEL = 'portico_schema';
export const CHANGES_CHANNEL = 'portico_changes';
const BARRIER_TIMEOUT_MS = 2_000;

const PROBE_MS = 2_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

export class SchemaListener implements HealthSource {
  private client: pg.Client | null = null;
  private down: string | null = 'not connected yet';
  private reconnecting = false;
  private closed = false;
  private probe: Promise<DatabaseHealth> | null = null;
  /** This connection's own channel, for barriers. */
  private readonly barrierChannel = `portico_barrier_${randomBytes(8).toString('hex')}`;
  /** Callers waiting for the barrier that has not been sent yet. */
  private nextBarrier: { token: string; promise: Promise<boolean> } | null = null;
  private readonly sentBarriers = new Map<string, (ok: boolean) => void>();
  private barrierCount = 0;

  constructor(
    private readonly config: pg.ClientConfig,
    /** A schema change may have happened, or announcements were lost: drop what is cached. */
    private readonly onChange: () => void,
    /** Another instance (or this one) committed: the payload its CommitAnnouncement wrote. */
    private readonly onCommit: (payload: string) => void = () => {},
  ) {}

  /**
   * Resolves true once every commit that finished before this call has been
   * announced to this instance; false when that cannot be known (no
   * connection, or no answer in time). Callers within one turn of the event
   * loop share one barrier.
   */
  barrier(): Promise<boolean> {
    if (this.client === null) return Promise.resolve(false);
    if (this.nextBarrier) return this.nextBarrier.promise;
    const token = String(++this.barrierCount);
    const promise = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), BARRIER_TIMEOUT_MS).unref();
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.sentBarriers.delete(token);
        resolve(ok);
      };
      this.sentBarriers.set(token, finish);
    });
    this.nextBarrier = { token, promise };
    setImmediate(() => {
      this.nextBarrier = null;
      const client = this.client;
      if (!client) return this.sentBarriers.get(token)?.(false);
      client.query(`NOTIFY ${this.barrierChannel}, '${token}'`).catch(() => this.sentBarriers.get(token)?.(false));
    });
    return promise;
  }

  /** Connects once; throws if the server cannot be reached (at start-up). */
  start(): Promise<void> {
    return this.connect();
  }

  health(): Promise<DatabaseHealth> {
    if (this.down !== null) return Promise.resolve({ status: 'unavailable', error: this.down });
    this.probe ??= this.ping().finally(() => (this.probe = null));
    return this.probe;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const finish of [...this.sentBarriers.values()]) finish(false);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    // A lost connection reports an error, then ends: the end is what counts.
    client.on('error', () => {});
    client.on('end', () => {
      if (this.client === client) this.lost('the connection to PostgreSQL was lost');
    });
    client.on('notification', (message) => {
      if (message.channel === this.barrierChannel) this.sentBarriers.get(message.payload ?? '')?.(true);
      else if (message.channel === CHANGES_CHANNEL) this.onCommit(message.payload ?? '');
      else this.onChange();
    });
    try {
      await client.connect();
      // A barrier's NOTIFY commits a transaction of its own: it need not
      // wait for the WAL to reach the disk (delivery order is the same).
      await client.query(`SET synchronous_commit = off; LISTEN ${SCHEMA_CHANNEL}; LISTEN ${CHANGES_CHANNEL}; LISTEN ${this.barrierChannel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    this.down = null;
    this.onChange();
  }

  private lost(reason: string): void {
    this.client = null;
    this.down = reason;
    for (const finish of [...this.sentBarriers.values()]) finish(false);
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    void this.reconnect().finally(() => (this.reconnecting = false));
  }

  private async reconnect(): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    while (!this.closed) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      if (this.closed) return;
      try {
        await this.connect();
        return;
      } catch (error) {
        this.down = `PostgreSQL is unreachable: ${(error as Error).message}`;
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      }
    }
  }

  /** A round trip on the listening connection; one that does not answer in time is dropped. */
  private async ping(): Promise<DatabaseHealth> {
    const client = this.client;
    if (!client) return { status: 'unavailable', error: this.down ?? 'not connected' };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${PROBE_MS} ms`)), PROBE_MS);
    });
    try {
      await Promise.race([client.query('SELECT 1'), late]);
      return { status: 'ok' };
    } catch (error) {
      const reason = (error as Error).message;
      if (this.client === client) {
        this.lost(reason);
        void client.end().catch(() => {});
      }
      return { status: 'unavailable', error: reason };
    } finally {
      clearTimeout(timer);
    }
  }
}
