import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { newId } from '../../src/database/ids.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { startStandIn, type Mode, type StandIn } from './remote-stand-in.js';

// A gateway tier (backend.kind: remote) whose function tier stalls, dies
// halfway through an answer, answers nonsense, or goes away: first a small
// node:http stand-in that fails on demand, then a real second Portico killed
// with SIGKILL. Through the function API and through an HTTP action, the
// gateway tier answers within its timeout with a catalogue error (504, 502
// or 503) and a request id, never with part of the tier's answer, and serves
// normally again as soon as the tier is back.

const ADMIN_KEY = 'function-tier-admin-key-0123456789';
const TIMEOUT_MS = 1500;
/** How late past the timeout an answer may come on a loaded machine. */
const SLACK_MS = 1500;

const gatewayModules = {
  'functions/edge.ts': `
import { httpAction } from 'portico';
// Lets a failure of the function tier escape, as most handlers would.
export const call = httpAction(async (ctx) => Response.json({ value: await ctx.runQuery('data:q', {}) }));
export const act = httpAction(async (ctx) => Response.json({ value: await ctx.runAction('data:slow', {}) }));
export const meta = httpAction(async (ctx, request) => Response.json(await ctx.storage.getMetadata(new URL(request.url).searchParams.get('id') as any)));
`,
};

function gatewayConfig(tierUrl: string): string {
  return `version: 1
functions: ./functions
backend: { kind: remote, url: "${tierUrl}", adminKey: "${ADMIN_KEY}" }
limits: { timeout: ${TIMEOUT_MS}ms }
routes:
  - { path: /call, method: GET, handler: "edge:call" }
  - { path: /act, method: GET, handler: "edge:act" }
  - { path: /meta, method: GET, handler: "edge:meta" }
`;
}

interface Answer {
  status: number;
  body: any;
  text: string;
  requestId: string | null;
  ms: number;
}

async function timed(url: string, init?: RequestInit): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(url, init);
  const text = await response.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {
    // The assertions say what was expected.
  }
  return { status: response.status, body, text, requestId: response.headers.get('x-request-id'), ms: Date.now() - started };
}

const apiQuery = (gateway: RunningGateway, path = 'data:q') =>
  timed(`${gateway.url}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path, args: {} }) });

/** A whole catalogue answer: the status, its code, a message, a request id, and nothing of the tier's partial answer. */
function assertCatalogueError(answer: Answer, status: number, code: string, context: string): void {
  assert.equal(answer.status, status, `${context}: ${answer.text}`);
  assert.equal(answer.body?.code, code, `${context}: ${answer.text}`);
  assert.equal(typeof answer.body?.message, 'string', context);
  assert.ok(answer.requestId, `${context}: a request id`);
  assert.doesNotMatch(answer.text, /"status":"success"/, `${context}: nothing of the tier's own answer`);
}

describe('a gateway tier over a function tier that misbehaves (a stand-in)', () => {
  let standIn: StandIn;
  let gateway: RunningGateway;
  let dir: string;
  before(async () => {
    standIn = await startStandIn('healthy');
    dir = await makeProject({ 'routes.yaml': gatewayConfig(standIn.url), ...gatewayModules });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await standIn?.close();
    await removeProject(dir);
  });

  test('a healthy tier answers through both paths (the baseline the faults depart from)', async () => {
    const api = await apiQuery(gateway);
    assert.deepEqual(api.body, { status: 'success', value: 'ok from the stand-in' });
    const action = await timed(`${gateway.url}/call`);
    assert.deepEqual(action.body, { value: 'ok from the stand-in' });
  });

  const faults: [Mode, string, number, string][] = [
    ['stall', 'never answers', 504, 'BackendTimeout'],
    ['stall-mid-body', 'stalls halfway through its answer', 504, 'BackendTimeout'],
    ['die-mid-body', 'dies halfway through its answer', 502, 'BadGateway'],
    ['die-before-head', 'dies before answering', 502, 'BadGateway'],
    ['garbage', 'answers 200 with a body that is not JSON', 502, 'BadGateway'],
    ['bad-value', 'answers a malformed $integer', 502, 'BadGateway'],
    ['proxy-500', 'answers 500 with an HTML page', 502, 'BadGateway'],
    ['unavailable', 'answers 503 (its database is down)', 503, 'BackendUnavailable'],
    ['huge', 'answers a 40 MiB result (past what a result can hold)', 502, 'BadGateway'],
  ];
  for (const [mode, what, status, code] of faults) {
    test(`a tier that ${what}: ${status} ${code} on the function API and from an HTTP action, within the timeout; then it recovers`, async () => {
      standIn.mode = mode;
      const api = await apiQuery(gateway);
      assertCatalogueError(api, status, code, `/api/query, ${mode}`);
      assert.ok(api.ms < TIMEOUT_MS + SLACK_MS, `/api/query answered after ${api.ms} ms`);

      const action = await timed(`${gateway.url}/call`);
      // A stall reaches the handler's own timeout at the same moment: either 504 is right.
      if (status === 504) assert.ok(action.body?.code === 'BackendTimeout' || action.body?.code === 'Timeout', action.text);
      else assertCatalogueError(action, status, code, `HTTP action, ${mode}`);
      assert.equal(action.status, status, action.text);
      assert.ok(action.ms < TIMEOUT_MS + SLACK_MS, `the HTTP action answered after ${action.ms} ms`);

      standIn.mode = 'healthy';
      assert.deepEqual((await apiQuery(gateway)).body, { status: 'success', value: 'ok from the stand-in' }, 'recovered');
    });
  }

  test('a tier that is gone (nothing listens): 503 BackendUnavailable at once; served again when it is back on its port', async () => {
    const port = standIn.port;
    await standIn.close();
    const api = await apiQuery(gateway);
    assertCatalogueError(api, 503, 'BackendUnavailable', 'tier gone');
    assert.match(api.body.message, /ECONNREFUSED/);
    assert.ok(api.ms < 1000, `answered after ${api.ms} ms`);
    const action = await timed(`${gateway.url}/call`);
    assertCatalogueError(action, 503, 'BackendUnavailable', 'tier gone, HTTP action');
    // Files live on the function tier too: reading one is refused the same way, not with an internal error.
    const file = await timed(`${gateway.url}/api/storage/${newId(1)}`);
    assertCatalogueError(file, 503, 'BackendUnavailable', 'tier gone, file read');

    standIn = await startStandIn('healthy', port);
    assert.deepEqual((await apiQuery(gateway)).body, { status: 'success', value: 'ok from the stand-in' });
    assert.deepEqual((await timed(`${gateway.url}/call`)).body, { value: 'ok from the stand-in' });
  });

  test("ctx.storage in an HTTP action: a stalled, failing or vanished tier is the action's 504, 502 or 503, within the timeout", async () => {
    const url = `${gateway.url}/meta?id=${newId(1)}`;
    standIn.mode = 'stall';
    const stalled = await timed(url);
    assert.equal(stalled.status, 504, stalled.text);
    assert.ok(['BackendTimeout', 'Timeout'].includes(stalled.body?.code), stalled.text);
    assert.ok(stalled.ms < TIMEOUT_MS + SLACK_MS, `answered after ${stalled.ms} ms`);
    standIn.mode = 'proxy-500';
    assertCatalogueError(await timed(url), 502, 'BadGateway', 'storage, proxy 500');
    const port = standIn.port;
    await standIn.close();
    assertCatalogueError(await timed(url), 503, 'BackendUnavailable', 'storage, tier gone');
    standIn = await startStandIn('healthy', port);
    assert.equal((await timed(url)).status, 200);
  });

  test('a file download the tier breaks off halfway: the client sees a broken connection, never a clean short file', async () => {
    standIn.mode = 'die-mid-body';
    const response = await fetch(`${gateway.url}/api/storage/${newId(1)}`);
    // The head went out before the tier died (files are streamed, not buffered): the body must then fail, not end.
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer());
    standIn.mode = 'healthy';
    assert.equal((await apiQuery(gateway)).body.status, 'success');
  });

  test('many calls to a stalled tier all end at the timeout, and the gateway tier serves the rest meanwhile', async () => {
    standIn.mode = 'stall';
    const started = Date.now();
    const stalled = Promise.all(Array.from({ length: 20 }, () => apiQuery(gateway)));
    // The gateway tier itself is not stuck: its health endpoint answers at once.
    const health = await timed(`${gateway.url}/_portico/health`);
    assert.equal(health.status, 200);
    assert.ok(health.ms < 500, `health took ${health.ms} ms`);
    const answers = await stalled;
    for (const answer of answers) assertCatalogueError(answer, 504, 'BackendTimeout', 'a stalled call');
    assert.ok(Date.now() - started < TIMEOUT_MS + SLACK_MS, `20 stalled calls took ${Date.now() - started} ms`);
    standIn.mode = 'healthy';
    assert.equal((await apiQuery(gateway)).body.status, 'success');
  });
});

describe('a gateway tier over a real function tier killed with SIGKILL', () => {
  const dirs: string[] = [];
  let tier: RunningGateway;
  let tierDir: string;
  let gateway: RunningGateway;
  before(async () => {
    tierDir = await makeProject({
      'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
api: { adminKey: "${ADMIN_KEY}" }
routes: []
`,
      'functions/data.ts': `
import { action, mutation, query, v } from 'portico';
export const q = query({ args: {}, handler: async () => 'ok from the function tier' });
export const slow = action({ args: {}, handler: async () => { await new Promise((resolve) => setTimeout(resolve, 10_000)); return 'late'; } });
export const put = mutation({ args: { n: v.number() }, handler: (ctx, { n }) => ctx.db.insert('notes', { n }) });
`,
    });
    dirs.push(tierDir);
    tier = await startGateway(tierDir, { timeoutMs: 60_000 });
    const gatewayDir = await makeProject({ 'routes.yaml': gatewayConfig(tier.url).replace(`timeout: ${TIMEOUT_MS}ms`, 'timeout: 8s'), ...gatewayModules });
    dirs.push(gatewayDir);
    gateway = await startGateway(gatewayDir);
  });
  after(async () => {
    await gateway?.stop();
    await tier?.stop('SIGKILL');
    for (const dir of dirs) await removeProject(dir);
  });

  test('killed mid-call: 502 BadGateway as soon as the connection breaks, 503 while it is down, answers again once restarted on its port', async () => {
    assert.deepEqual((await apiQuery(gateway)).body, { status: 'success', value: 'ok from the function tier' });

    // Calls in flight on the tier when it dies, through the API and an HTTP action.
    const inFlightApi = timed(`${gateway.url}/api/action`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: 'data:slow', args: {} }) });
    const inFlightAction = timed(`${gateway.url}/act`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const killedAt = Date.now();
    const exit = await tier.stop('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    for (const [name, pending] of [['/api/action', inFlightApi], ['HTTP action', inFlightAction]] as const) {
      const answer = await pending;
      assertCatalogueError(answer, 502, 'BadGateway', `${name} in flight at the kill`);
      assert.match(answer.body.message, /may or may not have run/);
      assert.ok(Date.now() - killedAt < 2000, `${name}: answered ${Date.now() - killedAt} ms after the kill, not at the 8 s timeout`);
    }

    const down = await apiQuery(gateway);
    assertCatalogueError(down, 503, 'BackendUnavailable', 'tier down');
    assert.ok(down.ms < 1000, `answered after ${down.ms} ms`);
    assertCatalogueError(await timed(`${gateway.url}/call`), 503, 'BackendUnavailable', 'tier down, HTTP action');

    tier = await startGateway(tierDir, { port: tier.port, timeoutMs: 60_000 });
    assert.deepEqual((await apiQuery(gateway)).body, { status: 'success', value: 'ok from the function tier' });
    assert.deepEqual((await timed(`${gateway.url}/call`)).body, { value: 'ok from the function tier' });
  });
});
