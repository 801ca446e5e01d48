import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';

// PostgreSQL for tests: the server on 127.0.0.1:5432, one fresh database per
// call, dropped afterwards. Without a server the test says loudly that it
// skipped; with PORTICO_REQUIRE_POSTGRES=1 (as CI sets it) it fails instead.

const HOST = '127.0.0.1';
const PORT = 5432;
const USER = process.env.PGUSER ?? os.userInfo().username;

let reachable: Promise<boolean> | undefined;
function serverUp(): Promise<boolean> {
  reachable ??= new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port: PORT });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
  return reachable;
}

/** A URL of a new, empty database, or null after skipping the test loudly. */
export async function freshDatabase(t: TestContext): Promise<string | null> {
  if (!(await serverUp())) {
    const message = `PostgreSQL is not reachable on ${HOST}:${PORT}: SKIPPING "${t.name}"`;
    if (process.env.PORTICO_REQUIRE_POSTGRES === '1') throw new Error(`${message} (PORTICO_REQUIRE_POSTGRES=1 makes this a failure)`);
    console.warn(`\n!! ${message}\n`);
    t.skip(message);
    return null;
  }
  const name = `portico_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ host: HOST, port: PORT, user: USER, database: 'test' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  t.after(async () => {
    const cleanup = new pg.Client({ host: HOST, port: PORT, user: USER, database: 'test' });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await cleanup.end();
  });
  return `postgres://${USER}@${HOST}:${PORT}/${name}`;
}

/** A PostgreSQL server of the test's own, which it may stop, start and kill connections of. */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Ends every other session of the server (pg_terminate_backend); returns how many. */
  terminateBackends(): Promise<number>;
}

/**
 * Starts a private server (initdb and pg_ctl from /usr/lib/postgresql/<v>/bin)
 * on a free port in a temporary folder, as the `postgres` OS user when the
 * test runs as root. Stopped and removed when the test ends, failed or not.
 * Without the binaries the test skips loudly (fails under
 * PORTICO_REQUIRE_POSTGRES=1).
 */
export async function privatePostgres(t: TestContext): Promise<PrivatePostgres | null> {
  const bin = postgresBin();
  if (bin === null) {
    const message = `initdb/pg_ctl not found under /usr/lib/postgresql/*/bin: SKIPPING "${t.name}"`;
    if (process.env.PORTICO_REQUIRE_POSTGRES === '1') throw new Error(`${message} (PORTICO_REQUIRE_POSTGRES=1 makes this a failure)`);
    console.warn(`\n!! ${message}\n`);
    t.skip(message);
    return null;
  }
  const root = mkdtempSync(path.join(os.tmpdir(), 'portico-pg-'));
  const data = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(root, postgresUid(), postgresGid());
  const port = await freePort();
  // Synchronous on purpose: a test that fails must not leave a server behind.
  const run = (tool: string, args: string[]) => {
    const command = asRoot ? 'runuser' : path.join(bin, tool);
    const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, tool), ...args] : args;
    const result = spawnSync(command, argv, { encoding: 'utf8', timeout: 60_000 });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${result.status}): ${result.stderr}${result.stdout}`);
  };
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${root} -c fsync=off`;
  const ctl = (action: string, ...extra: string[]) => run('pg_ctl', [action, '-D', data, '-w', '-t', '30', ...extra]);
  let running = false;
  const cleanup = () => {
    if (running) {
      try {
        ctl('stop', '-m', 'immediate');
      } catch {
        // Already gone.
      }
      running = false;
    }
    rmSync(root, { recursive: true, force: true });
  };
  process.once('exit', cleanup);
  t.after(() => {
    process.off('exit', cleanup);
    cleanup();
  });
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  ctl('start', '-o', options, '-l', path.join(root, 'server.log'));
  running = true;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async stop() {
      ctl('stop', '-m', 'fast');
      running = false;
    },
    async start() {
      ctl('start', '-o', options, '-l', path.join(root, 'server.log'));
      running = true;
    },
    async terminateBackends() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(
          "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
        );
        return Number(rows[0]!.n);
      } finally {
        await client.end();
      }
    },
  };
}

function postgresBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((name) => existsSync(path.join(base, name, 'bin', 'pg_ctl'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : null;
}

function postgresUid(): number {
  return Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

function postgresGid(): number {
  return Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
