import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import http from 'node:http';
import { makeProject, removeProject } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';

// Regression: reloads left things running. A reload that moved to another
// database dropped the old storage without stopping its hourly orphan sweep
// (an interval holding the closed store, one more per reload), and a reload
// that changed storage.dir kept the old storage for good. Here the real
// binary serves steady load while it is reloaded 100 times by SIGHUP,
// alternating between two databases and two storage folders; afterwards
// its open files, its live intervals and its active handles are back where
// they were. A small preload (--import) counts intervals and reports
// process.getActiveResourcesInfo() on SIGUSR2; the binary is otherwise the
// one users run.

const ADMIN_KEY = 'reload-leaks-admin-key-0123456789';
const RELOADS = 100;

const PROBE = `
import { promisify } from 'node:util';
const live = new Set();
const { setInterval: set, clearInterval: clear, setTimeout: setT, clearTimeout: clearT } = globalThis;
globalThis.setInterval = function (...args) { const timer = set(...args); live.add(timer); return timer; };
globalThis.clearInterval = function (timer) { live.delete(timer); return clear(timer); };
// Each pending timeout with where it was set, so that a failure can say
// which one was left behind.
const timeouts = new Map();
globalThis.setTimeout = function (callback, ...rest) {
  let timer;
  const fire = typeof callback === 'function' ? function (...args) { timeouts.delete(timer); return callback.apply(this, args); } : callback;
  timer = setT(fire, ...rest);
  timeouts.set(timer, new Error().stack.split('\\n').slice(2, 8).map((line) => line.trim()).join(' < '));
  return timer;
};
globalThis.setTimeout[promisify.custom] = setT[promisify.custom];
globalThis.clearTimeout = function (timer) { live.delete(timer); timeouts.delete(timer); return clearT(timer); };
// Handles come and go (the scheduler polls the database every second: its
// read checks a pooled connection out, which clears the connection's idle
// timer, and queues an Immediate), so each kind is counted at several
// instants over 200 ms and both its smallest and its largest count are
// reported. What leaked is live at every instant after the reloads, beyond
// the most there were at any instant before them.
const count = () => {
  const resources = {};
  for (const name of process.getActiveResourcesInfo()) resources[name] = (resources[name] ?? 0) + 1;
  return resources;
};
const pendingTimeouts = () => new Set([...timeouts.keys()].filter((timer) => timer.hasRef()));
process.on('SIGUSR2', async () => {
  let least = count();
  const most = { ...least };
  let lasting = pendingTimeouts();
  for (let i = 0; i < 8; i++) {
    await new Promise((resolve) => setT(resolve, 25));
    const now = count();
    for (const name of Object.keys(least)) least[name] = Math.min(least[name], now[name] ?? 0);
    for (const name of Object.keys(now)) most[name] = Math.max(most[name] ?? 0, now[name]);
    const still = pendingTimeouts();
    lasting = new Set([...lasting].filter((timer) => still.has(timer)));
  }
  const timeoutsSetAt = [...lasting].map((timer) => timeouts.get(timer));
  process.stderr.write('PROBE ' + JSON.stringify({ intervals: live.size, least, most, timeoutsSetAt }) + '\\n');
});
`;

const FUNCTIONS = {
  'functions/notes.ts': `
import { httpAction, mutation, query, v } from 'portico';
export const add = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
export const count = query(async (ctx) => (await ctx.db.query('notes').take(1000)).length);
export const hello = httpAction(async (ctx) => Response.json({ count: await ctx.runQuery('notes:count' as any, {}) }));
export const upload = httpAction(async (ctx, request) => Response.json({ id: await ctx.storage.store(await request.blob()) }));
`,
};

function config(database: string, storageDir: string): string {
  return `version: 1
functions: ./functions
server: { shutdownTimeout: 3s }
backend: { kind: local, database: "${database}" }
storage: { kind: fs, dir: ${storageDir} }
api: { adminKey: ${ADMIN_KEY} }
routes:
  - { path: /hello, method: GET, handler: "notes:hello" }
  - { path: /upload, method: POST, handler: "notes:upload" }
`;
}

interface Probe {
  fds: number;
  /** What the open file descriptors point at, for those that are files. */
  files: string[];
  intervals: number;
  /** Active handles by kind: the fewest and the most seen at any one instant of the probe. */
  least: Record<string, number>;
  most: Record<string, number>;
  /** Where each ref'd timeout pending at every instant of the probe was set. */
  timeoutsSetAt: string[];
}

async function probe(gateway: RunningGateway): Promise<Probe> {
  const seen = gateway.stderr().split('PROBE ').length;
  gateway.child.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  while (gateway.stderr().split('PROBE ').length === seen) {
    if (Date.now() > deadline) throw new Error(`no probe answer; stderr:\n${gateway.stderr().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const line = gateway.stderr().split('PROBE ').at(-1)!.split('\n')[0]!;
  const fds = readdirSync(`/proc/${gateway.child.pid}/fd`).length;
  const targets = readdirSync(`/proc/${gateway.child.pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${gateway.child.pid}/fd/${fd}`);
    } catch {
      return '';
    }
  });
  return { fds, files: targets.filter((target) => target.startsWith('/')), ...(JSON.parse(line) as Omit<Probe, 'fds' | 'files'>) };
}

/** Sends SIGHUP and waits for the reload it causes to be logged. */
async function reload(gateway: RunningGateway): Promise<void> {
  const reloaded = () => gateway.logs().filter((line) => line.event === 'reloaded').length;
  const before = reloaded();
  gateway.child.kill('SIGHUP');
  const deadline = Date.now() + 15_000;
  while (reloaded() === before) {
    const refused = gateway.logs().find((line) => line.event === 'reload-refused');
    if (refused) throw new Error(`reload refused: ${JSON.stringify(refused)}`);
    if (Date.now() > deadline) throw new Error('no reload within 15 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One request on `agent`; resolves with the status once the answer is read. */
function send(agent: http.Agent, url: string, method: string, body?: Uint8Array | string, type?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { agent, method, headers: type ? { 'content-type': type } : {} }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode!));
      response.once('error', reject);
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** Requests from `workers` keep-alive clients until stopped; counts answers by status. */
function steadyLoad(url: string, workers: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const statuses = new Map<number, number>();
  let running = true;
  const body = new Uint8Array(64 * 1024);
  const one = async (i: number) => {
    const kind = i % 3;
    const mutation = JSON.stringify({ path: 'notes:add', args: { text: `note ${i}` }, format: 'json' });
    const status =
      kind === 0
        ? await send(agent, `${url}/hello`, 'GET')
        : kind === 1
          ? await send(agent, `${url}/api/mutation`, 'POST', mutation, 'application/json')
          : await send(agent, `${url}/upload`, 'POST', body, 'application/octet-stream');
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  };
  const loops = Array.from({ length: workers }, async (_, worker) => {
    for (let i = worker; running; i += workers) await one(i);
  });
  return {
    statuses,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

async function reloadUnderLoad(t: TestContext, databases: [string, string]) {
  const dir = await makeProject({ 'routes.yaml': config(databases[0], './.data/files-a'), 'probe.mjs': PROBE, ...FUNCTIONS });
  t.after(() => removeProject(dir));
  const gateway = await startGateway(dir, {
    timeoutMs: 60_000,
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(path.join(dir, 'probe.mjs')).href}` },
  });
  t.after(() => gateway.stop('SIGKILL'));

  const configs = [config(databases[1], './.data/files-b'), config(databases[0], './.data/files-a')];
  // Past the 3 s grace period, and past the PostgreSQL pool's 10 s idle
  // timeout: a warm pool's idle connections (each with its idle timer) are
  // then closed in both measurements, so only what leaked is left to count.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 11_000));
  // A few rounds first, so that what is opened once (both databases, lazy
  // modules) is open before the baseline.
  const warmup = steadyLoad(gateway.url, 6);
  for (let i = 0; i < 4; i++) {
    await writeFile(path.join(dir, 'routes.yaml'), configs[i % 2]!);
    await reload(gateway);
  }
  await warmup.stop();
  await settle();
  const before = await probe(gateway);

  const load = steadyLoad(gateway.url, 6);
  for (let i = 0; i < RELOADS; i++) {
    await writeFile(path.join(dir, 'routes.yaml'), configs[i % 2]!);
    await reload(gateway);
  }
  await load.stop();
  await settle();
  const afterReloads = await probe(gateway);

  // Every request was answered, and none failed.
  const errors = gateway.logs().filter((line) => line.level >= 50 || (typeof line.status === 'number' && line.status >= 500));
  assert.deepEqual([...load.statuses.keys()], [200], `statuses under reloads: ${JSON.stringify([...load.statuses])}\n${errors.map((line) => JSON.stringify(line)).join('\n')}`);
  const answered = [...load.statuses.values()].reduce((a, b) => a + b, 0);
  assert.ok(answered > RELOADS, `only ${answered} requests answered during ${RELOADS} reloads`);
  const summary = ({ files, timeoutsSetAt, ...rest }: Probe) => JSON.stringify({ ...rest, files: files.length, timeouts: timeoutsSetAt.length });
  t.diagnostic(`${RELOADS} reloads under load (${answered} requests): ${summary(before)} -> ${summary(afterReloads)}`);
  assert.equal(afterReloads.intervals, before.intervals, 'intervals (the orphan sweeps of retired storages) are left running');
  // Pool connections and their idle timers may have closed meanwhile; nothing may have grown.
  for (const [kind, count] of Object.entries(afterReloads.least)) {
    const most = before.most[kind] ?? 0;
    assert.ok(
      count <= most,
      `active ${kind} handles: at most ${most} before, at least ${count} after; pending timeouts set at:\n${afterReloads.timeoutsSetAt.join('\n')}`,
    );
  }
  // The database the last config left is closed, and nothing grew with the
  // number of reloads (a reader connection more or less in the pool of the
  // database in use is not a leak; one per reload would be).
  const retired = databases[1].replace(/^\.\//, '');
  assert.deepEqual(afterReloads.files.filter((file) => file.includes(retired)), [], 'files of the retired database are still open');
  // Regression: a reload back to a database still in its grace period used to
  // open a second store on it, so every round trip added connections (40
  // open files became 55 here, and PostgreSQL ran out of clients); it now
  // takes the retiring store up again.
  assert.ok(afterReloads.fds <= before.fds + 6, `open files: ${before.fds} before, ${afterReloads.fds} after ${RELOADS} reloads`);
  return { before, afterReloads };
}

describe('reloads leave nothing behind', () => {
  test(`${RELOADS} reloads under load between two SQLite databases and two storage folders leak no timers, handles or files`, { timeout: 240_000 }, async (t) => {
    await reloadUnderLoad(t, ['./.data/a.sqlite', './.data/b.sqlite']);
  });

  test(`${RELOADS} reloads under load between two PostgreSQL pools leak no connections, timers or handles`, { timeout: 240_000 }, async (t) => {
    const first = await freshDatabase(t);
    const second = first && (await freshDatabase(t));
    if (!first || !second) return;
    await reloadUnderLoad(t, [first, second]);
  });
});
