import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { freePort } from '../helpers/http.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';

// /_portico/metrics seen from outside: a real `portico serve`, a known number
// of requests, a scrape parsed by a Prometheus text-format parser.

const ADMIN_KEY = 'metrics-admin-key-0123456789';

const FUNCTIONS = {
  'functions/app.ts': `
import { httpAction, mutation, query, v } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
export const user = httpAction(async (ctx) => new Response('user ' + ctx.params.id));
export const fail = httpAction(async () => { throw new Error('boom'); });
export const add = mutation({ args: { text: v.string() }, handler: (ctx, { text }) => ctx.db.insert('notes', { text }) });
export const count = query({ args: {}, handler: async (ctx) => (await ctx.db.query('notes').collect()).length });
`,
};

const ROUTES = `  - { path: /hello, method: GET, handler: "app:hello" }
  - { path: /users/:id, method: GET, handler: "app:user" }
  - { path: /fail, method: POST, handler: "app:fail" }`;

type Families = ReturnType<typeof parsePrometheusTextFormat>;

function family(families: Families, name: string) {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `the scrape has ${name}`);
  return found;
}

function sample(families: Families, name: string, labels: Record<string, string>): number {
  const matching = family(families, name).metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return matching.reduce((sum, m) => sum + Number(m.value), 0);
}

/** A request on a connection of its own, so that every worker gets some. */
function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: init.method ?? 'GET', agent: false, headers: { connection: 'close', ...init.headers } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body, headers: response.headers }));
    });
    request.on('error', reject);
    request.end(init.body);
  });
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Families> {
  return (await scrapeText(url, headers)).families;
}

async function scrapeText(url: string, headers: Record<string, string> = {}): Promise<{ families: Families; text: string }> {
  const response = await send(`${url}/_portico/metrics`, { headers });
  assert.equal(response.status, 200, response.body);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return { families: parsePrometheusTextFormat(response.body), text: response.body };
}

interface HistogramSeries {
  labels: Record<string, string>;
  /** Upper bound → cumulative count, in the order of the text. */
  buckets: [string, number][];
  count: number;
  sum: number;
}

/**
 * A histogram's series. The parser folds every series of a labelled
 * histogram into one, so the histogram's samples are parsed as plain
 * (untyped) families, which keep each line's labels, and grouped here.
 */
function histogram(text: string, name: string): HistogramSeries[] {
  const untyped = parsePrometheusTextFormat(text.replace(new RegExp(`^# TYPE ${name} histogram$`, 'm'), ''));
  const samples = (suffix: string) => untyped.filter((f) => f.name === `${name}_${suffix}`).flatMap((f) => f.metrics);
  const keyOf = (labels: Record<string, string> = {}) => JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
  const series = new Map<string, HistogramSeries>();
  for (const bucket of samples('bucket')) {
    const key = keyOf(bucket.labels);
    if (!series.has(key)) series.set(key, { labels: Object.fromEntries(Object.entries(bucket.labels!).filter(([k]) => k !== 'le')), buckets: [], count: NaN, sum: NaN });
    series.get(key)!.buckets.push([bucket.labels!.le!, Number(bucket.value)]);
  }
  for (const count of samples('count')) series.get(keyOf(count.labels))!.count = Number(count.value);
  for (const sum of samples('sum')) series.get(keyOf(sum.labels))!.sum = Number(sum.value);
  return [...series.values()];
}

const callApi = (url: string, kind: string, name: string, args: unknown) =>
  send(`${url}/api/${kind}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: name, args, format: 'json' }) });

describe('metrics at /_portico/metrics', () => {
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    dir = await makeProject({ ...FUNCTIONS, 'routes.yaml': routesYaml(ROUTES, `api: { adminKey: ${ADMIN_KEY} }\nmetrics: { access: open }`) });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('counts match the requests sent, by route pattern, method and status', async () => {
    for (let i = 0; i < 7; i++) assert.equal((await send(`${gateway.url}/hello`)).status, 200);
    for (const id of ['a', 'b', 'c']) assert.equal((await send(`${gateway.url}/users/${id}`)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await send(`${gateway.url}/fail`, { method: 'POST', body: 'x' })).status, 500);
    assert.equal((await send(`${gateway.url}/no/such/path-${Date.now()}`)).status, 404);

    const families = await scrape(gateway.url);
    const requests = 'portico_http_requests_total';
    assert.equal(sample(families, requests, { route: '/hello', method: 'GET', status: '200' }), 7);
    assert.equal(sample(families, requests, { route: '/users/:id', method: 'GET', status: '200' }), 3);
    assert.equal(sample(families, requests, { route: '/fail', method: 'POST', status: '500' }), 2);
    assert.equal(sample(families, requests, { route: '(none)', status: '404' }), 1);
    // Bounded labels: the raw paths never appear.
    const routes = new Set(family(families, requests).metrics.map((m) => m.labels!.route));
    for (const route of routes) assert.doesNotMatch(route!, /\/users\/[abc]|no\/such/);

    // Bytes on the wire, in both directions.
    assert.ok(sample(families, 'portico_http_request_bytes_total', { route: '/hello' }) > 7 * 20);
    assert.ok(sample(families, 'portico_http_response_bytes_total', { route: '/hello' }) > 7 * 'hello'.length);
    // Requests in flight: the scrape itself is being handled.
    assert.equal(sample(families, 'portico_http_requests_in_flight', {}), 1);
    // Node process metrics.
    assert.ok(sample(families, 'process_cpu_user_seconds_total', {}) > 0);
    assert.ok(sample(families, 'nodejs_heap_size_used_bytes', {}) > 0);
  });

  test('the duration histogram buckets add up to the count, for every route', async () => {
    const { families, text } = await scrapeText(gateway.url);
    assert.equal(family(families, 'portico_http_request_duration_seconds').type, 'HISTOGRAM');
    const all = histogram(text, 'portico_http_request_duration_seconds');
    assert.ok(all.length >= 4);
    let total = 0;
    for (const series of all) {
      const counts = series.buckets.map(([, count]) => count);
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `buckets are cumulative for ${JSON.stringify(series.labels)}`);
      assert.equal(series.buckets.at(-1)![0], '+Inf');
      assert.equal(counts.at(-1), series.count, 'the +Inf bucket is the count');
      assert.ok(series.sum > 0);
      total += series.count;
      const requests = sample(families, 'portico_http_requests_total', { route: series.labels.route!, method: series.labels.method! });
      assert.equal(series.count, requests, `one observation per request on ${series.labels.route}`);
    }
    assert.equal(total, sample(families, 'portico_http_requests_total', {}));
    assert.equal(all.find((m) => m.labels.route === '/hello')!.count, 7);
  });

  test('function calls by function, kind and outcome, with their durations', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await callApi(gateway.url, 'mutation', 'app:add', { text: `n${i}` })).status, 200);
    for (let i = 0; i < 2; i++) await callApi(gateway.url, 'query', 'app:count', {});
    await callApi(gateway.url, 'mutation', 'app:add', { text: 42 });
    await callApi(gateway.url, 'query', `made:up${Date.now()}`, {});

    const { families, text } = await scrapeText(gateway.url);
    const calls = 'portico_function_calls_total';
    assert.equal(sample(families, calls, { function: 'app:add', kind: 'mutation', outcome: 'success' }), 4);
    assert.equal(sample(families, calls, { function: 'app:add', kind: 'mutation', outcome: 'error' }), 1);
    assert.equal(sample(families, calls, { function: 'app:count', kind: 'query', outcome: 'success' }), 2);
    assert.equal(sample(families, calls, { function: '(unknown)' }), 1, 'a made-up name does not become a label');
    const durations = histogram(text, 'portico_function_duration_seconds').find((m) => m.labels.function === 'app:add')!;
    assert.equal(durations.count, 5);
    assert.equal(durations.buckets.at(-1)![1], 5);
    // /api requests are labelled by the mount, not by path.
    assert.equal(sample(families, 'portico_http_requests_total', { route: '/api/*' }), 8);
  });

  test('reloads by outcome', async () => {
    const before = await scrape(gateway.url);
    assert.equal(sample(before, 'portico_reloads_total', { outcome: 'refused' }), 0);
    await writeFile(path.join(dir, 'routes.yaml'), 'version: 1\nroutes: [ { path: nope } ]\n');
    gateway.child.kill('SIGHUP');
    await gateway.waitForLog((line) => line.event === 'reload-refused');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const afterwards = await scrape(gateway.url);
    assert.equal(sample(afterwards, 'portico_reloads_total', { outcome: 'refused' }), 1);
    assert.equal(sample(afterwards, 'portico_reloads_total', { outcome: 'ok' }), 0);
  });
});

describe('metrics access', () => {
  const dirs: string[] = [];
  const gateways: RunningGateway[] = [];
  const start = async (extra: string) => {
    const dir = await makeProject({ ...FUNCTIONS, 'routes.yaml': routesYaml(ROUTES, extra) });
    dirs.push(dir);
    const gateway = await startGateway(dir);
    gateways.push(gateway);
    return gateway;
  };
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(dirs.map(removeProject));
  });

  test('by default they need the admin key as a bearer token', async () => {
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }`);
    const anonymous = await send(`${gateway.url}/_portico/metrics`);
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Bearer/);
    assert.equal((await send(`${gateway.url}/_portico/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}x` } })).status, 401);
    const families = await scrape(gateway.url, { authorization: `Bearer ${ADMIN_KEY}` });
    assert.equal(sample(families, 'portico_http_requests_total', { route: '/_portico/metrics', status: '401' }), 2);
  });

  test('without an admin key they are not there at all (404), and metrics: false turns them off', async () => {
    for (const extra of ['', `api: { adminKey: ${ADMIN_KEY} }\nmetrics: false`]) {
      const gateway = await start(extra);
      assert.equal((await send(`${gateway.url}/_portico/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status, 404);
    }
  });

  test('metrics.listen serves them on a separate address, and not on the gateway port', async () => {
    const port = await freePort();
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }\nmetrics: { listen: "127.0.0.1:${port}" }`);
    await send(`${gateway.url}/hello`);
    assert.equal((await send(`${gateway.url}/_portico/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status, 404);
    const families = await scrape(`http://127.0.0.1:${port}`);
    assert.equal(sample(families, 'portico_http_requests_total', { route: '/hello' }), 1);
    assert.equal((await send(`http://127.0.0.1:${port}/other`)).status, 404);
  });
});

describe('metrics with --workers', () => {
  test('every scrape covers all workers, whichever one answers it', async () => {
    const dir = await makeProject({ ...FUNCTIONS, 'routes.yaml': routesYaml(ROUTES, 'metrics: { access: open }') });
    const gateway = await startGateway(dir, { args: ['--workers', '2'] });
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) await send(`${gateway.url}/hello`);
      for (let i = 0; i < 20; i++) pids.add(JSON.parse((await send(`${gateway.url}/_portico/health`)).body).pid);
      assert.equal(pids.size, 2, 'both workers answered');
      for (let i = 0; i < 6; i++) {
        const { families, text } = await scrapeText(gateway.url);
        assert.equal(sample(families, 'portico_http_requests_total', { route: '/hello' }), 20);
        assert.equal(sample(families, 'portico_http_requests_total', { route: '/_portico/health' }), 20);
        const hello = histogram(text, 'portico_http_request_duration_seconds').find((m) => m.labels.route === '/hello')!;
        assert.equal(hello.count, 20);
        assert.equal(hello.buckets.at(-1)![1], 20);
      }
    } finally {
      await gateway.stop();
      await removeProject(dir);
    }
  });
});
