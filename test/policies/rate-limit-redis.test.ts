// rateLimit with a Redis store: two gateway instances on one Redis share one
// budget (the accuracy check of a limit of 100 per 10 s over 300 requests),
// and a Redis that goes away mid-load, or hangs, costs requests neither
// their answer nor more than the store's timeout: allowed by default,
// refused with 503 under onStoreError: deny, logged once per outage.
// Needs the machine's Redis on 127.0.0.1:6379; without it these tests skip
// and say so.
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { get, HANDLERS } from './rate-limit-helpers.js';

const REDIS = { host: '127.0.0.1', port: 6379 };

async function redisAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(REDIS, () => {
      socket.write('PING\r\n');
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
  });
}

const available = await redisAvailable();
// CI sets PORTICO_REQUIRE_REDIS=1: there a missing Redis is a failure, not a skip.
if (!available && process.env.PORTICO_REQUIRE_REDIS === '1') throw new Error('no Redis on 127.0.0.1:6379 (PORTICO_REQUIRE_REDIS=1 makes this a failure)');
if (!available) console.warn('\n*** SKIPPED: no Redis on 127.0.0.1:6379; the Redis rate limit tests did not run ***\n');
const skip = available ? false : 'no Redis on 127.0.0.1:6379';

/** A TCP relay in front of Redis that the test can cut (refuse, or hang) and restore. */
class RedisRelay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  mode: 'pass' | 'hang' = 'pass';
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => {});
      if (this.mode === 'hang') return; // accepted, never answered
      const upstream = net.connect(REDIS);
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  /** Redis goes away: open connections reset, new ones refused. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

const limited = (store: string, extra = '') => routesYaml('  - { path: /limited, method: GET, handler: h:hit }', `api: false\nrateLimit: { requests: 100, per: 10s, key: header:X-Api-Key, store: "${store}"${extra} }`);

describe('rate limits in Redis', { skip }, () => {
  let dir: string;
  let a: RunningGateway;
  let b: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'functions/h.ts': HANDLERS, 'routes.yaml': limited(`redis://${REDIS.host}:${REDIS.port}`) });
    [a, b] = await Promise.all([startGateway(dir), startGateway(dir)]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await removeProject(dir);
  });

  test('two instances on one Redis: 300 requests spread evenly over both allow between 95 and 100 per 10 s window', async () => {
    // A key of this run's own, so counts left in Redis by other runs do not interfere.
    const key = randomUUID();
    const outcomes: { at: number; status: number }[] = [];
    const started = Date.now();
    // 300 requests over about 1.5 s, alternating instances, 10 at a time.
    for (let i = 0; i < 300; i += 10) {
      const batch = [];
      for (let j = i; j < i + 10; j++) {
        const gw = j % 2 === 0 ? a : b;
        batch.push(get(gw.port, '/limited', { headers: { 'x-api-key': key } }).then((answer) => outcomes.push({ at: Date.now() - started, status: answer.status })));
      }
      await Promise.all(batch);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 9_000, `the load took ${elapsed} ms, more than one window`);
    const allowed = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.status === 429).length;
    assert.equal(allowed + refused, 300, 'every request got 200 or 429');
    assert.ok(allowed <= 100, `${allowed} allowed in one window of 100`);
    assert.ok(allowed >= 95, `only ${allowed} of 100 allowed`);
    // The budget was spent on both instances.
    const last = await get(b.port, '/limited', { headers: { 'x-api-key': key } });
    assert.equal(last.status, 429);
    assert.match(String(last.headers.ratelimit), /^"default";r=0;t=\d+$/);
  });
});

describe('Redis rate limits over several windows', { skip }, () => {
  test('300 requests evenly over 25 s on two instances: no window allows more than 100, a full window allows at least 95', async () => {
    const dir = await makeProject({ 'functions/h.ts': HANDLERS, 'routes.yaml': limited(`redis://${REDIS.host}:${REDIS.port}`) });
    const [one, two] = await Promise.all([startGateway(dir), startGateway(dir)]);
    try {
      const key = randomUUID();
      // Each allowed answer names its window by when it resets (now + t seconds).
      const allowedByWindow = new Map<number, number>();
      let refused = 0;
      const started = Date.now();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        const due = started + i * (25_000 / 300);
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const gw = i % 2 === 0 ? one : two;
        pending.push(
          get(gw.port, '/limited', { headers: { 'x-api-key': key } }).then((answer) => {
            const t = Number(/;t=(\d+)/.exec(String(answer.headers.ratelimit))?.[1]);
            if (answer.status === 429) return void refused++;
            assert.equal(answer.status, 200);
            const resetsAt = Math.round((Date.now() + t * 1000) / 2000);
            allowedByWindow.set(resetsAt, (allowedByWindow.get(resetsAt) ?? 0) + 1);
          }),
        );
      }
      await Promise.all(pending);
      const counts = [...allowedByWindow.entries()].sort(([a], [b]) => a - b).map(([, n]) => n);
      // Adjacent buckets of the same window (a reset time rounded either way) are merged.
      const windows: number[] = [];
      let last = -Infinity;
      for (const [at, n] of [...allowedByWindow.entries()].sort(([a], [b]) => a - b)) {
        if (at - last <= 1) windows[windows.length - 1]! += n;
        else windows.push(n);
        last = at;
      }
      assert.ok(windows.length >= 3, `windows: ${windows.join(', ')} (buckets ${counts.join(', ')})`);
      for (const n of windows) assert.ok(n <= 100, `a window allowed ${n}: ${windows.join(', ')}`);
      assert.ok(windows[0]! >= 95 && windows[1]! >= 95, `full windows allowed ${windows[0]} and ${windows[1]}`);
      assert.equal(windows.reduce((a, b) => a + b, 0) + refused, 300);
    } finally {
      await Promise.all([one.stop(), two.stop()]);
      await removeProject(dir);
    }
  });
});

describe('Redis unreachable', { skip }, () => {
  test('fail open by default: requests are answered within the timeout, the outage logged once, and counting resumes after it', async () => {
    const relay = new RedisRelay();
    await relay.start();
    const dir = await makeProject({ 'functions/h.ts': HANDLERS, 'routes.yaml': limited(`redis://127.0.0.1:${relay.port}`, ', timeout: 300ms').replace('requests: 100', 'requests: 5') });
    const gw = await startGateway(dir);
    try {
      const key = randomUUID();
      const call = () => get(gw.port, '/limited', { headers: { 'x-api-key': key } });
      assert.equal((await call()).status, 200);
      assert.equal((await call()).status, 200);
      await relay.stop();
      // Mid-load: every request still answered, 200, and quickly.
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const answer = await call();
        const took = performance.now() - started;
        assert.equal(answer.status, 200);
        assert.ok(took < 1000, `a request took ${Math.round(took)} ms while Redis was down`);
      }
      // Log lines are written in batches: wait for the first, then count.
      await gw.waitForLog((line) => /rate limit store unreachable/.test(line.msg), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const outageLines = gw.logs().filter((line) => /rate limit store unreachable/.test(line.msg));
      assert.equal(outageLines.length, 1, 'the outage is logged once, not per request');
      assert.match(outageLines[0]!.msg, /let through/);
      // Redis back on the same port: counting resumes (2 + 3 more allowed, then 429).
      await relay.start(relay.port);
      let statuses: number[] = [];
      const deadline = Date.now() + 10_000;
      // ioredis reconnects on its own schedule; wait until answers carry counts again.
      while (Date.now() < deadline) {
        const answer = await call();
        if (answer.headers['ratelimit'] !== undefined || answer.status === 429) {
          statuses.push(answer.status);
          if (answer.status === 429) break;
        } else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(statuses.at(-1), 429, `counting did not resume: ${statuses.join(' ')}`);
      await gw.waitForLog((line) => /rate limit store reachable again/.test(line.msg), 5_000);
    } finally {
      await gw.stop();
      await relay.stop().catch(() => {});
      await removeProject(dir);
    }
  });

  test('onStoreError: deny answers 503 from the catalogue, and a hung Redis costs no more than the timeout', async () => {
    const relay = new RedisRelay();
    relay.mode = 'hang';
    await relay.start();
    const dir = await makeProject({ 'functions/h.ts': HANDLERS, 'routes.yaml': limited(`redis://127.0.0.1:${relay.port}`, ', timeout: 250ms, onStoreError: deny').replace('api: false', 'api: false\nmetrics: { access: open }') });
    const gw = await startGateway(dir);
    try {
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const answer = await get(gw.port, '/limited', { headers: { 'x-api-key': 'k', origin: 'https://x.example' } });
        const took = performance.now() - started;
        assert.equal(answer.status, 503);
        assert.equal(JSON.parse(answer.body).code, 'RateLimitUnavailable');
        assert.ok(answer.headers['x-request-id']);
        assert.ok(took < 800, `a request took ${Math.round(took)} ms against a hung Redis (timeout 250ms)`);
      }
      await gw.waitForLog((line) => /rate limit store unreachable/.test(line.msg), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(gw.logs().filter((line) => /rate limit store unreachable/.test(line.msg)).length, 1);
      const metrics = await get(gw.port, '/_portico/metrics');
      assert.match(metrics.body, /^portico_rate_limit_store_errors_total\{outcome="denied"\} 5$/m);
      // A Redis that never answers does not hold the shutdown up.
      const stopping = performance.now();
      const exit = await gw.stop();
      assert.equal(exit.code, 0);
      assert.ok(performance.now() - stopping < 5_000, `SIGTERM took ${Math.round(performance.now() - stopping)} ms with a hung Redis`);
    } finally {
      await gw.stop();
      await relay.stop();
      await removeProject(dir);
    }
  });
});
