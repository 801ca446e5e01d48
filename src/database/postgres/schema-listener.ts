import pg from 'pg';
import type { DatabaseHealth, HealthSource } from '../health.js';

// One connection of its own, outside the pool, that LISTENs for schema
// changes announced by other instances, and tells /_portico/health whether
// the server is there. When the server goes away (a restart, a killed
// backend) it reconnects by itself, and drops the caches on its return,
// since announcements sent meanwhile were lost.

export const SCHEMA_CHANNEL = 'portico_schema';

const PROBE_MS = 2_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 2_000;

export class SchemaListener implements HealthSource {
  private client: pg.Client | null = null;
  private down: string | null = 'not connected yet';
  private reconnecting = false;
  private closed = false;
  private probe: Promise<DatabaseHealth> | null = null;

  constructor(
    private readonly config: pg.ClientConfig,
    /** A schema change may have happened: drop what is cached. */
    private readonly onChange: () => void,
  ) {}

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
    client.on('notification', () => this.onChange());
    try {
      await client.connect();
      await client.query(`LISTEN ${SCHEMA_CHANNEL}`);
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
