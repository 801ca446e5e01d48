import pg from 'pg';
import { DatabaseUnavailableError } from '../store.js';
import { isConnectionFailure } from './connection-errors.js';

// pg's pool, made safe for a server that goes away or a pool that runs dry:
//  - a caller waits for a connection no longer than the URL's libpq
//    `connect_timeout` (seconds; default 5), then gets a
//    DatabaseUnavailableError (a 503), never an endless wait;
//  - a connection that fails while checked out is noticed (and never
//    crashes the process), and is destroyed rather than pooled again;
//  - the server ends a session left idle inside a transaction, as a
//    backstop behind the store's own rollbacks.

const DEFAULT_WAIT_MS = 5_000;
const IDLE_IN_TRANSACTION_MS = 60_000;
const ROLLBACK_WAIT_MS = 5_000;

/** A checked-out connection. */
export interface Lease {
  client: pg.PoolClient;
  /** Set if the connection failed while this lease held it. */
  lost: Error | null;
  /** Gives the connection back, or destroys it. */
  release(destroy?: boolean): void;
}

export class ConnectionPool {
  /** For connections of the store's own outside the pool (the schema listener). */
  readonly clientConfig: pg.ClientConfig;
  private readonly pool: pg.Pool;
  private readonly waitMs: number;

  constructor(
    url: string,
    private readonly size: number,
  ) {
    this.waitMs = connectTimeoutOf(url) ?? DEFAULT_WAIT_MS;
    this.clientConfig = { connectionString: url, connectionTimeoutMillis: this.waitMs, keepAlive: true };
    this.pool = new pg.Pool({ ...this.clientConfig, max: size, idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS });
    // An idle client that loses its connection must not crash the process
    // (the pool drops it).
    this.pool.on('error', () => {});
  }

  /** A pooled connection, waited for no longer than `connect_timeout`. */
  async checkout(): Promise<Lease> {
    const started = Date.now();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      const message =
        Date.now() - started >= this.waitMs - 10
          ? `No PostgreSQL connection became free within ${this.waitMs} ms (backend.pool: ${this.size})`
          : `Cannot connect to PostgreSQL: ${describe(error)}`;
      throw new DatabaseUnavailableError(message, false, { cause: error });
    }
    const lease: Lease = {
      client,
      lost: null,
      release: (destroy = false) => {
        client.off('error', onError);
        client.release(destroy ? (lease.lost ?? new Error('abandoned')) : undefined);
      },
    };
    // While checked out the pool does not listen: without this, a server
    // that ends the connection would crash the process.
    const onError = (error: Error) => (lease.lost = error);
    client.on('error', onError);
    return lease;
  }

  /**
   * Ends a transaction that did not commit. Its connection goes back to the
   * pool only once ROLLBACK has answered; one that is lost, still running a
   * statement (`busy`: an abandoned function), or slow to roll back is
   * destroyed, which ends the transaction on the server too.
   */
  async abandon(lease: Lease, busy: boolean): Promise<void> {
    if (busy || lease.lost !== null) return lease.release(true);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), ROLLBACK_WAIT_MS)));
    const outcome = await Promise.race([lease.client.query('ROLLBACK').then(() => 'done' as const, () => 'failed' as const), slow]);
    clearTimeout(timer);
    lease.release(outcome !== 'done' || lease.lost !== null);
  }

  /** One autocommitted statement; an unreachable server is a DatabaseUnavailableError. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const lease = await this.checkout();
    try {
      const result = await lease.client.query<R>(text, values);
      lease.release();
      return result;
    } catch (error) {
      const lost = lease.lost !== null || isConnectionFailure(error);
      lease.release(lost);
      if (lost) throw lostConnection(lease, error);
      throw error;
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** The error for a connection that failed under a statement. */
export function lostConnection(lease: Lease, error: unknown, Kind = DatabaseUnavailableError): DatabaseUnavailableError {
  return new Kind(`The connection to PostgreSQL was lost: ${describe(lease.lost ?? error)}`, false, { cause: error });
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** libpq's `connect_timeout` (seconds) from the URL, as milliseconds. */
function connectTimeoutOf(url: string): number | null {
  let raw: string | null;
  try {
    raw = new URL(url).searchParams.get('connect_timeout');
  } catch {
    return null;
  }
  const seconds = raw === null ? NaN : Number(raw);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;
}
