import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// How a failing HTTP action is reported when the failure comes from a query,
// mutation or action it called, and when it returns something that is not a
// Response: once, at the cause, naming the handler.

const files = {
  'functions/notes.ts': `
import { httpAction, query, mutation, action } from 'portico';
export const failingQuery = query({ args: {}, handler: async () => { throw new Error('no such note'); } });
export const failingMutation = mutation({ args: {}, handler: async () => { throw new TypeError('bad note'); } });
export const failingAction = action({ args: {}, handler: async (ctx) => ctx.runQuery('notes:failingQuery', {}) });
export const viaQuery = httpAction(async (ctx) => { await ctx.runQuery('notes:failingQuery', {}); return new Response('unreachable'); });
export const viaMutation = httpAction(async (ctx) => { await ctx.runMutation('notes:failingMutation', {}); return new Response('unreachable'); });
export const viaAction = httpAction(async (ctx) => { await ctx.runAction('notes:failingAction', {}); return new Response('unreachable'); });
export const caught = httpAction(async (ctx) => {
  try { await ctx.runQuery('notes:failingQuery', {}); } catch (error) { return new Response((error as Error).message); }
  return new Response('no error');
});
export const broken = httpAction(async () => undefined as any);
export const text = httpAction(async () => 'hello' as any);
export const factory = httpAction(async () => (() => new Response('x')) as any);
export const map = httpAction(async () => new Map() as any);
`,
};

const routes = `
  - { path: /via-query, method: GET, handler: "notes:viaQuery" }
  - { path: /via-mutation, method: GET, handler: "notes:viaMutation" }
  - { path: /via-action, method: GET, handler: "notes:viaAction" }
  - { path: /caught, method: GET, handler: "notes:caught" }
  - { path: /broken, method: GET, handler: "notes:broken" }
  - { path: /text, method: GET, handler: "notes:text" }
  - { path: /factory, method: GET, handler: "notes:factory" }
  - { path: /map, method: GET, handler: "notes:map" }
`;

async function failure(gateway: RunningGateway, path: string): Promise<{ id: string; body: { code: string; trace?: string } }> {
  const response = await fetch(gateway.url + path);
  assert.equal(response.status, 500);
  return { id: response.headers.get('x-request-id')!, body: await response.json() };
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('errors of HTTP actions, in development', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...files });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  // Bug: the callee's errorMessage ("[Request ID: X] Server Error\nUncaught
  // Error: ...") became the message of a new Error, so the action's 500 read
  // "[Request ID: X] Server Error: Uncaught Error: [Request ID: X] Server Error\nUncaught Error: no such note".
  for (const [path, uncaught] of [
    ['/via-query', 'Uncaught Error: no such note'],
    ['/via-mutation', 'Uncaught TypeError: bad note'],
    ['/via-action', 'Uncaught Error: no such note'],
  ] as const) {
    test(`an error thrown by a function called from an HTTP action is reported once (${path})`, async () => {
      const { id, body } = await failure(gateway, path);
      assert.equal(body.code, `[Request ID: ${id}] Server Error: ${uncaught}`);
      assert.equal(count(JSON.stringify(body), 'Server Error'), 1, JSON.stringify(body));
      assert.equal(count(JSON.stringify(body), 'Request ID'), 1, JSON.stringify(body));
      assert.ok(body.trace!.startsWith(`${uncaught}\n`), body.trace);
      // The trace points at the callee's line in the user's module.
      assert.match(body.trace!, /notes\.ts:\d+/);
    });
  }

  test('through the function API, an action whose runQuery failed reports the failure once', async () => {
    const response = await fetch(`${gateway.url}/api/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path: 'notes:failingAction', args: {}, format: 'json' }),
    });
    const body = (await response.json()) as { status: string; errorMessage: string };
    assert.equal(body.status, 'error');
    assert.match(body.errorMessage, /^\[Request ID: [^\]]+\] Server Error\nUncaught Error: no such note\n/);
    assert.equal(count(body.errorMessage, 'Server Error'), 1, body.errorMessage);
  });

  test('an error caught by the action keeps the message Convex gives it', async () => {
    const response = await fetch(`${gateway.url}/caught`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^\[Request ID: [^\]]+\] Server Error\nUncaught Error: no such note/);
  });

  // Bug: every non-Response answer gave the same message, which did not say
  // which handler or what it returned.
  for (const [path, returned] of [
    ['/broken', 'undefined'],
    ['/text', 'a string ("hello")'],
    ['/factory', 'a function (call it, or return what it returns)'],
    ['/map', 'a Map'],
  ] as const) {
    test(`a handler returning something other than a Response names itself and what it returned (${path})`, async () => {
      const { id, body } = await failure(gateway, path);
      const handler = `notes:${path.slice(1)}`;
      assert.equal(body.code, `[Request ID: ${id}] Server Error: Uncaught Error: HTTP actions must return a Response: ${handler} returned ${returned}`);
    });
  }
});

describe('errors of HTTP actions, in production', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...files });
    gateway = await startGateway(dir, { env: { NODE_ENV: 'production' } });
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('a failed call is still only the request id', async () => {
    const { id, body } = await failure(gateway, '/via-query');
    assert.deepEqual(body, { code: `[Request ID: ${id}] Server Error` });
  });
});
