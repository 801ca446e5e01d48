import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// Routing as docs/http.md specifies it, over a real socket: exact paths,
// :param segments, prefixes, precedence exact > param > prefix, longest
// prefix first, HEAD through GET, 404 and 405.

const functions = {
  'functions/echo.ts': `
import { httpAction } from 'portico';
// Each handler answers with its own name and what it was given.
const named = (name: string) => httpAction(async (ctx, request) =>
  Response.json({ name, method: request.method, params: ctx.params, url: request.url }));
export const exact = named('exact');
export const me = named('me');
export const byId = named('byId');
export const posts = named('posts');
export const prefix = named('prefix');
export const deepPrefix = named('deepPrefix');
export const root = named('root');
export const create = named('create');
`,
};

const routes = `
  - { path: /users/me, method: GET, handler: "echo:me" }
  - { path: /users/:id, method: [GET, PATCH], handler: "echo:byId" }
  - { path: /users/:id/posts/:post, method: GET, handler: "echo:posts" }
  - { path: /exact, method: GET, handler: "echo:exact" }
  - { path: /exact, method: POST, handler: "echo:create" }
  - { pathPrefix: /files/, method: GET, handler: "echo:prefix" }
  - { pathPrefix: /files/deep/, method: GET, handler: "echo:deepPrefix" }
  - { pathPrefix: /trash/, method: DELETE, handler: "echo:root" }
  - { pathPrefix: /docs/, method: GET, handler: "echo:prefix" }
  - { path: /docs/:page, method: GET, handler: "echo:byId" }
`;

describe('routing', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const get = async (path: string, init?: RequestInit) => {
    const response = await fetch(gateway.url + path, init);
    return { response, body: response.headers.get('content-type')?.includes('json') ? await response.json() : await response.text() };
  };

  test('an exact path beats a parameter path at the same place', async () => {
    assert.equal((await get('/users/me')).body.name, 'me');
    assert.equal((await get('/users/42')).body.name, 'byId');
  });

  test('parameter values arrive in ctx.params, percent-decoded', async () => {
    const { body } = await get('/users/a%20b/posts/7');
    assert.equal(body.name, 'posts');
    assert.deepEqual(body.params, { id: 'a b', post: '7' });
  });

  test('the longest prefix wins, and a prefix matches the bare prefix itself', async () => {
    assert.equal((await get('/files/deep/x/y')).body.name, 'deepPrefix');
    assert.equal((await get('/files/deepish')).body.name, 'prefix');
    assert.equal((await get('/files/')).body.name, 'prefix');
  });

  test('paths are case-sensitive, trailing slashes matter, the query string is ignored', async () => {
    assert.equal((await get('/Exact')).response.status, 404);
    assert.equal((await get('/exact/')).response.status, 404);
    assert.equal((await get('/files')).response.status, 404);
    const { body } = await get('/exact?x=1');
    assert.equal(body.name, 'exact');
    assert.match(body.url, /\/exact\?x=1$/);
  });

  test('each method of a path reaches its own route', async () => {
    assert.equal((await get('/exact', { method: 'POST', body: '' })).body.name, 'create');
    assert.equal((await get('/users/5', { method: 'PATCH', body: '{}' })).body.name, 'byId');
  });

  test('HEAD runs the GET route and sends no body', async () => {
    const response = await fetch(gateway.url + '/exact', { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
    assert.ok(Number(response.headers.get('content-length')) > 0, 'HEAD reports the length GET would send');
  });

  test('no route for the path: 404 text/plain "No matching routes found"', async () => {
    const { response, body } = await get('/nowhere');
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(body, 'No matching routes found');
    assert.ok(response.headers.get('x-request-id'));
  });

  test('a path that exists for other methods: 405 with Allow', async () => {
    const response = await fetch(gateway.url + '/exact', { method: 'PUT', body: 'x' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal((await response.json()).code, 'MethodNotAllowed');
  });

  test('a prefix route for one method does not answer other methods', async () => {
    assert.equal((await get('/trash/at/all', { method: 'DELETE' })).body.name, 'root');
    const response = await fetch(gateway.url + '/trash/at/all');
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'DELETE');
  });

  // Bug: find-my-way let `:id` match an empty segment, so GET /users/ called
  // the handler with id "" (and /users//posts/7 with id "").
  test('a :param never matches an empty segment', async () => {
    for (const path of ['/users/', '/users//posts/7', '/users/1/posts/']) {
      const { response, body } = await get(path);
      assert.equal(response.status, 404, `${path} → ${JSON.stringify(body)}`);
      assert.equal(body, 'No matching routes found');
    }
    // Not a 405 either: no route of any method answers there.
    assert.equal((await get('/users/', { method: 'PATCH', body: '{}' })).response.status, 404);
    assert.deepEqual((await get('/users/7/posts/1')).body.params, { id: '7', post: '1' });
  });

  test('a path a :param route leaves empty falls through to the prefix route below it', async () => {
    assert.equal((await get('/docs/intro')).body.name, 'byId');
    const bare = await get('/docs/');
    assert.equal(bare.body.name, 'prefix');
    assert.deepEqual(bare.body.params, {});
    assert.equal((await get('/docs//x')).body.name, 'prefix');
  });
});
