#!/usr/bin/env node
// What metrics and the dashboard's log capture add to one request, in CPU
// time, measured in this process on the built code (dist/): the request
// meter (Prometheus counters, histogram, bytes, the per-route chart) and
// the log tap (one line into the history ring). A figure that a busy
// machine distorts far less than req/s does: compare it with the time one
// GET hello takes (1 / its req/s on one core).
//
//   node bench/observability-cost.mjs
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const load = (file) => import(pathToFileURL(path.join(ROOT, 'dist', file)).href);
const { requestMeterFor } = await load('gateway/request-meter.js');
const { keepLogHistory } = await load('dashboard/log-history.js');
const { logTap } = await load('log/log-tap.js');

const config = { metrics: { access: 'open', listen: null } };
const meter = requestMeterFor(config, [{ prefix: '/_portico/' }, { prefix: '/api/' }]);
const socket = { bytesRead: 0, bytesWritten: 0 };
const req = { url: '/hello', method: 'GET', socket };
keepLogHistory();
const { logTap: tap } = await load('log/log-tap.js');
const line = '{"level":30,"time":1796524883400,"pid":17561,"reqId":"a297491400000001","method":"GET","path":"/hello","route":"/hello","handler":"bench:hello","status":200,"ms":0.213,"client":"127.0.0.1","msg":"request"}\n';

function measure(name, n, fn) {
  for (let i = 0; i < n / 10; i++) fn(i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - started) / n;
  console.log(`${name.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns per request`);
  return ns;
}

void logTap;
const rounds = [];
for (let round = 0; round < 5; round++) {
  const m = measure('request meter (metrics + route chart)', 1_000_000, (i) => {
    socket.bytesRead += 120;
    socket.bytesWritten += 180;
    meter(req, '/hello', 200, 0.05 + (i % 7) * 0.01);
  });
  const t = measure('log tap (one line into the history)', 1_000_000, () => tap(line));
  rounds.push(m + t);
}
rounds.sort((a, b) => a - b);
console.log(`median added CPU per request: ${rounds[2].toFixed(0)} ns`);
