import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { httpAction, httpRouter, HttpRouter, ROUTABLE_HTTP_METHODS } from '../../src/index.js';

// httpRouter() as Convex defines it (router.ts in the convex package): the
// order of its checks and the exact wording of each error, lookup() with
// exact paths before the longest prefix and HEAD through GET, and the order
// of getRoutes().

const h = (name: string) => httpAction(async () => new Response(name));
const a = h('a');
const b = h('b');

describe('httpRouter: route() checks, in order, with their messages', () => {
  const cases: [string, unknown, string][] = [
    ['no handler', { path: '/x', method: 'GET' }, 'route requires handler'],
    ['no handler before no method', { path: '/x' }, 'route requires handler'],
    ['no method', { path: '/x', handler: a }, 'route requires method'],
    ['an unknown method', { path: '/x', method: 'FETCH', handler: a }, "'FETCH' is not an allowed HTTP method (like GET, POST, PUT etc.)"],
    ['a lower-case method', { path: '/x', method: 'get', handler: a }, "'get' is not an allowed HTTP method (like GET, POST, PUT etc.)"],
    ['HEAD', { path: '/x', method: 'HEAD', handler: a }, "'HEAD' is not an allowed HTTP method (like GET, POST, PUT etc.)"],
    ['both path and pathPrefix', { path: '/x', pathPrefix: '/x/', method: 'GET', handler: a }, "Invalid httpRouter route: cannot contain both 'path' and 'pathPrefix'"],
    ['a path without its slash', { path: 'x', method: 'GET', handler: a }, "path 'x' does not start with a /"],
    ['an empty path', { path: '', method: 'GET', handler: a }, "path '' does not start with a /"],
    ['/.files', { path: '/.files', method: 'GET', handler: a }, "path '/.files' is reserved"],
    ['under /.files/', { path: '/.files/x', method: 'GET', handler: a }, "path '/.files/x' is reserved"],
    ['a prefix without its leading slash', { pathPrefix: 'x/', method: 'GET', handler: a }, "pathPrefix 'x/' does not start with a /"],
    ['a prefix without its trailing slash', { pathPrefix: '/x', method: 'GET', handler: a }, 'pathPrefix /x must end with a /'],
    ['a prefix under /.files/', { pathPrefix: '/.files/', method: 'GET', handler: a }, "pathPrefix '/.files/' is reserved"],
    ['neither path nor prefix', { method: 'GET', handler: a }, "Invalid httpRouter route entry: must contain either field 'path' or 'pathPrefix'"],
  ];
  for (const [name, spec, message] of cases) {
    test(name, () => {
      assert.throws(() => httpRouter().route(spec as any), { message });
    });
  }

  test('the same path and method twice', () => {
    const http = httpRouter();
    http.route({ path: '/x', method: 'GET', handler: a });
    http.route({ path: '/x', method: 'POST', handler: a });
    assert.throws(() => http.route({ path: '/x', method: 'GET', handler: b }), { message: "Path '/x' for method GET already in use" });
  });

  test('the same prefix and method twice', () => {
    const http = httpRouter();
    http.route({ pathPrefix: '/x/', method: 'GET', handler: a });
    assert.throws(() => http.route({ pathPrefix: '/x/', method: 'GET', handler: b }), { message: 'GET pathPrefix /x/ is already defined' });
  });

  test('shadowing is allowed: a path under a prefix, a prefix under a prefix, the prefix /', () => {
    const http = httpRouter();
    http.route({ pathPrefix: '/', method: 'GET', handler: a });
    http.route({ pathPrefix: '/p/', method: 'GET', handler: a });
    http.route({ pathPrefix: '/p/q/', method: 'GET', handler: a });
    http.route({ path: '/p/q/r', method: 'GET', handler: a });
    assert.equal(http.getRoutes().length, 4);
  });

  test('the routable methods are Convex\'s six', () => {
    assert.deepEqual([...ROUTABLE_HTTP_METHODS], ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
    assert.ok(httpRouter() instanceof HttpRouter);
    assert.equal(httpRouter().isRouter, true);
  });
});

describe('httpRouter: lookup()', () => {
  const http = httpRouter();
  const exact = h('exact');
  const short = h('short');
  const long = h('long');
  const root = h('root');
  http.route({ path: '/path1/foo/bar', method: 'GET', handler: exact });
  http.route({ pathPrefix: '/path1/', method: 'GET', handler: short });
  http.route({ pathPrefix: '/path1/foo/', method: 'GET', handler: long });
  http.route({ pathPrefix: '/', method: 'POST', handler: root });
  http.route({ path: '/profile', method: 'GET', handler: exact });

  test('an exact path beats every prefix', () => {
    assert.deepEqual(http.lookup('/path1/foo/bar', 'GET'), [exact, 'GET', '/path1/foo/bar']);
  });
  test('the longest prefix wins, whatever the order of declaration', () => {
    assert.deepEqual(http.lookup('/path1/foo/baz', 'GET'), [long, 'GET', '/path1/foo/*']);
    assert.deepEqual(http.lookup('/path1/other', 'GET'), [short, 'GET', '/path1/*']);
  });
  test('a prefix matches itself, not the path without its slash', () => {
    assert.deepEqual(http.lookup('/path1/', 'GET'), [short, 'GET', '/path1/*']);
    assert.equal(http.lookup('/path1', 'GET'), null);
  });
  test('trailing slash and case count', () => {
    assert.equal(http.lookup('/profile/', 'GET'), null);
    assert.equal(http.lookup('/PROFILE', 'GET'), null);
  });
  test('HEAD runs the GET route', () => {
    assert.deepEqual(http.lookup('/profile', 'HEAD'), [exact, 'GET', '/profile']);
  });
  test('no fallback to another method', () => {
    assert.equal(http.lookup('/profile', 'DELETE'), null);
    assert.deepEqual(http.lookup('/profile', 'POST'), [root, 'POST', '/*']);
  });
});

describe('httpRouter: getRoutes()', () => {
  test('exact paths sorted with their methods sorted, then prefixes by method, then by prefix', () => {
    const http = httpRouter();
    http.route({ pathPrefix: '/path1/foo/', method: 'GET', handler: a });
    http.route({ path: '/path1/foo', method: 'GET', handler: a });
    http.route({ pathPrefix: '/z/', method: 'DELETE', handler: a });
    http.route({ path: '/path1', method: 'POST', handler: b });
    http.route({ pathPrefix: '/path1/', method: 'GET', handler: a });
    http.route({ path: '/path1', method: 'GET', handler: a });
    http.route({ pathPrefix: '/', method: 'GET', handler: a });
    assert.deepEqual(
      http.getRoutes().map(([path, method]) => [path, method]),
      [
        ['/path1', 'GET'],
        ['/path1', 'POST'],
        ['/path1/foo', 'GET'],
        ['/z/*', 'DELETE'],
        ['/*', 'GET'],
        ['/path1/*', 'GET'],
        ['/path1/foo/*', 'GET'],
      ],
    );
    assert.equal(http.getRoutes()[1]![2], b);
  });
});
