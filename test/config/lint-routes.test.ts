import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, locations, only, yaml } from './helpers.js';

test('a route with both path and pathPrefix is routes/path-or-prefix at pathPrefix', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /files
        pathPrefix: /files/
        method: GET
        handler: files
  `);
  assert.equal(result.config, null);
  assert.deepEqual(locations(result), ['routes.yaml:4:5 routes/path-or-prefix']);
  assert.equal(result.diagnostics[0]!.message, 'route has both path and pathPrefix; keep one');
});

test('a route with neither path nor pathPrefix is routes/path-or-prefix at the route', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - method: GET
        handler: files
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:5 routes/path-or-prefix']);
  assert.equal(result.diagnostics[0]!.message, 'route has neither path nor pathPrefix');
});

test('the same method and path twice is routes/duplicate, naming the first route and its line', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /users
        method: [GET, POST]
        handler: users:list
      - path: /other
        method: GET
        handler: other
      - path: /users
        method: [POST, PUT]
        handler: users:create
      - pathPrefix: /static/
        method: GET
        handler: a
      - pathPrefix: /static/
        method: GET
        handler: b
  `);
  assert.deepEqual(locations(result), ['routes.yaml:9:11 routes/duplicate', 'routes.yaml:15:17 routes/duplicate']);
  assert.deepEqual(
    result.diagnostics.map((d) => d.message),
    [
      'duplicate route: POST /users is also declared by routes[0] (line 3)',
      'duplicate route: GET prefix /static/ is also declared by routes[3] (line 12)',
    ],
  );
});

test('the same path with different methods, or an exact path equal to a prefix, is no duplicate', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - { path: /users, method: GET, handler: a }
      - { path: /users, method: POST, handler: b }
      - { path: /files/, method: GET, handler: c }
      - { pathPrefix: /files/, method: GET, handler: d }
      - { path: /users/, method: GET, handler: e }
  `);
  assert.deepEqual(result.diagnostics, []);
  assert.equal(result.config!.routes.length, 5);
});

test('two same-shaped parameter paths with a common method are routes/ambiguous-param', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /users/:id
        method: GET
        handler: users:byId
      - path: /users/:name/posts
        method: GET
        handler: users:posts
      - path: /users/:name
        method: [DELETE, GET]
        handler: users:byName
      - path: /users/:slug
        method: POST
        handler: users:bySlug
      - path: /users/me
        method: GET
        handler: users:me
  `);
  assert.deepEqual(locations(result), ['routes.yaml:9:11 routes/ambiguous-param']);
  assert.equal(
    result.diagnostics[0]!.message,
    'ambiguous route: GET /users/:name has the same shape as /users/:id in routes[0] (line 3); the router cannot tell them apart',
  );
});

test('a parameter named twice in one path is routes/duplicate-param', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /orgs/:id/users/:id
        method: GET
        handler: a
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:11 routes/duplicate-param']);
  assert.equal(result.diagnostics[0]!.message, "path '/orgs/:id/users/:id' names the parameter :id twice");
});

test('a pathPrefix without a trailing slash is routes/prefix-trailing-slash with the fixed value', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - pathPrefix: /getAuthorMessages
        method: GET
        handler: a
  `);
  const d = only(result, 'routes/prefix-trailing-slash');
  assert.deepEqual([d.line, d.column], [3, 17]);
  assert.equal(d.hint, "write '/getAuthorMessages/'");
});

test('paths under /_portico/ and under the API prefix are routes/reserved-path', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - { path: /_portico, method: GET, handler: a }
      - { pathPrefix: /_portico/, method: GET, handler: a }
      - { path: /api/query, method: POST, handler: a }
      - { pathPrefix: /api/, method: GET, handler: a }
      - { path: /api, method: GET, handler: a }
      - { path: /apis, method: GET, handler: a }
      - { path: /_porticos, method: GET, handler: a }
  `);
  assert.deepEqual(locations(result), [
    'routes.yaml:3:13 routes/reserved-path',
    'routes.yaml:4:19 routes/reserved-path',
    'routes.yaml:5:13 routes/reserved-path',
    'routes.yaml:6:19 routes/reserved-path',
    'routes.yaml:7:13 routes/reserved-path',
  ]);
  assert.equal(result.diagnostics[2]!.message, '/api/query is under /api, the prefix of the function API');
});

test('the reserved API prefix follows api.prefix, and api: false frees it', async () => {
  const moved = await load(yaml`
    version: 1
    api: { prefix: /convex }
    routes:
      - { path: /api/query, method: POST, handler: a }
      - { path: /convex/query, method: POST, handler: a }
  `);
  assert.deepEqual(locations(moved), ['routes.yaml:5:13 routes/reserved-path']);
  const off = await load(yaml`
    version: 1
    api: false
    routes:
      - { path: /api/query, method: POST, handler: a }
      - { path: /_portico/x, method: POST, handler: a }
  `);
  assert.deepEqual(locations(off), ['routes.yaml:5:13 routes/reserved-path']);
});

test('auth: required without any provider is routes/auth-without-provider', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /me
        method: GET
        handler: me
        auth: required
  `);
  assert.deepEqual(locations(result), ['routes.yaml:6:11 routes/auth-without-provider']);
  const withProvider = await load(yaml`
    version: 1
    auth:
      providers:
        - { issuer: https://auth.example.com, jwks: https://auth.example.com/jwks.json }
    routes:
      - { path: /me, method: GET, handler: me, auth: required }
  `);
  assert.deepEqual(withProvider.diagnostics, []);
});

test('a path the schema refused is not linted again', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - { path: /_portico/a b, method: GET, handler: a }
      - { path: /_portico/a b, method: GET, handler: a }
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:13 schema/pattern', 'routes.yaml:4:13 schema/pattern']);
});
