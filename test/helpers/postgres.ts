import net from 'node:net';
import os from 'node:os';
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
