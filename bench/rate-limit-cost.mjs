#!/usr/bin/env node
// What an in-memory rate limit adds to one request, in CPU time, measured in
// this process on the built code (dist/): RateLimit.admit (the key, the
// count, the RateLimit fields) for a budget large enough never to refuse,
// with one client address or a thousand. A figure a busy machine distorts
// far less than req/s: compare it with the time one GET hello takes.
//
//   node bench/rate-limit-cost.mjs
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { RateLimit } = await import(pathToFileURL(path.join(ROOT, 'dist', 'policies', 'rate-limit.js')).href);

const policy = { requests: 1e9, windowMs: 60_000, key: { kind: 'ip' }, store: null, onStoreError: 'allow', timeoutMs: 200, name: 'default' };
const silent = { error() {}, info() {}, warn() {} };
const limit = new RateLimit(policy, 'GET /hello', { client: () => undefined, identity: async () => null }, silent);
const requests = Array.from({ length: 1000 }, (_, i) => ({ headers: {}, socket: { remoteAddress: `10.0.${i >> 8}.${i & 255}` } }));

async function measure(name, n, pick) {
  for (let i = 0; i < n / 10; i++) await limit.admit(pick(i), {}, []);
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) await limit.admit(pick(i), {}, []);
  const used = process.cpuUsage(cpu);
  console.log(`${name}: ${((used.user + used.system) / n).toFixed(2)} µs of CPU per request`);
}

await measure('in-memory rate limit, one client', 300_000, () => requests[0]);
await measure('in-memory rate limit, 1,000 clients', 300_000, (i) => requests[i % 1000]);
