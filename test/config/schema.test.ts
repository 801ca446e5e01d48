import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, locations, only, yaml } from './helpers.js';

test('an unknown key is schema/unknown-key at the key, with a did-you-mean', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        metod: GET
        handler: a
  `);
  assert.equal(result.config, null);
  // The missing `method` is the same typo: not reported a second time.
  assert.deepEqual(locations(result), ['routes.yaml:4:5 schema/unknown-key']);
  assert.equal(result.diagnostics[0]!.message, "unknown key 'metod' in route (did you mean 'method'?)");
  assert.equal(result.diagnostics[0]!.hint, undefined);
});

test('an unknown key with no near match lists the allowed keys in the hint', async () => {
  const result = await load(yaml`
    version: 1
    server:
      colour: blue
    routes: []
  `);
  const d = only(result, 'schema/unknown-key');
  assert.deepEqual([d.line, d.column], [3, 3]);
  assert.equal(d.message, "unknown key 'colour' in server");
  assert.equal(d.hint, 'allowed keys: host, port, publicUrl, shutdownTimeout, headersTimeout, requestTimeout, keepAliveTimeout, maxConnections, maxConnectionsPerClient, trustProxy, tls, http2');
});

test('did-you-mean covers case slips and shortened names at the top level and in nested mappings', async () => {
  const result = await load(yaml`
    version: 1
    Routes: []
    cors:
      origin: []
      allowheaders: []
    routes:
      - prefix: /a/
        method: GET
        handler: a
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.message]),
    [
      [2, 1, "unknown key 'Routes' at the top level (did you mean 'routes'?)"],
      [4, 3, "unknown key 'origin' in cors (did you mean 'origins'?)"],
      [5, 3, "unknown key 'allowheaders' in cors (did you mean 'allowHeaders'?)"],
      [7, 5, "unknown key 'prefix' in route (did you mean 'pathPrefix'?)"],
    ],
  );
});

test('a missing required key is schema/required at the mapping that lacks it', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: GET
    auth:
      providers:
        - issuer: https://issuer.example.com
  `);
  assert.deepEqual(locations(result), ['routes.yaml:3:5 schema/required', 'routes.yaml:7:7 schema/required']);
  assert.deepEqual(
    result.diagnostics.map((d) => d.message),
    ["route is missing required key 'handler'", "auth provider is missing required key 'jwks'"],
  );
});

test('a missing top-level key is reported at the start of the document', async () => {
  const result = await load(yaml`
    # a comment first
    version: 1
  `);
  assert.deepEqual(locations(result), ['routes.yaml:2:1 schema/required']);
  assert.equal(result.diagnostics[0]!.message, "the config is missing required key 'routes'");
});

test('an empty file says what it needs', async () => {
  const result = await load('');
  assert.deepEqual(locations(result), ['routes.yaml:1:1 schema/type']);
  assert.match(result.diagnostics[0]!.message, /the file is empty/);
});

test('a wrong type is schema/type at the value, naming the expected type in YAML terms', async () => {
  const result = await load(yaml`
    version: 1
    server:
      port: abc
      host: [a]
    routes: {}
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [3, 9, 'schema/type', "server.port must be an integer, not 'abc'"],
      [4, 9, 'schema/type', 'server.host must be a string, not a list'],
      [5, 9, 'schema/type', 'routes must be a list, not a mapping'],
    ],
  );
});

test('an empty value is reported at its key', async () => {
  const result = await load(yaml`
    version: 1
    server:
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:2:1 schema/type']);
  assert.equal(result.diagnostics[0]!.message, 'server must be a mapping, not an empty value');
});

test("a value outside an enum is schema/enum with did-you-mean for near misses ('GTE', 'get')", async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: GTE
        handler: a
      - path: /b
        method: [POST, get]
        handler: b
      - path: /c
        method: FETCH
        handler: c
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [4, 13, 'schema/enum', "method must be one of GET, POST, PUT, PATCH, DELETE, OPTIONS, not 'GTE' (did you mean 'GET'?)"],
      [7, 20, 'schema/enum', "method[1] must be one of GET, POST, PUT, PATCH, DELETE, OPTIONS, not 'get' (did you mean 'GET'?)"],
      [10, 13, 'schema/enum', "method must be one of GET, POST, PUT, PATCH, DELETE, OPTIONS, not 'FETCH'"],
    ],
  );
});

test('declaring HEAD says that GET routes answer HEAD already', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: [GET, HEAD]
        handler: a
  `);
  const d = only(result, 'schema/enum');
  assert.deepEqual([d.line, d.column], [4, 19]);
  assert.match(d.message, /^HEAD cannot be declared: every GET route also answers HEAD/);
  assert.equal(d.hint, 'declare GET instead');
});

test('a value other than the one allowed is schema/const', async () => {
  const result = await load(yaml`
    version: 2
    routes: []
  `);
  assert.deepEqual(locations(result), ['routes.yaml:1:10 schema/const']);
  assert.equal(result.diagnostics[0]!.message, 'version must be 1, not 2');
});

test('a pattern mismatch is schema/pattern and explains what the value should look like', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: users/{id}
        method: GET
        handler: users:byId
      - path: /b
        method: GET
        handler: ../secrets:key
      - path: /c
        method: GET
        handler: c
        cors: { origins: ["*"], allowHeaders: [X Custom] }
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message, d.hint]),
    [
      [
        3,
        11,
        'schema/pattern',
        "path 'users/{id}' is not valid: a path must start with / and use :name for parameters, e.g. /users/:id",
        "did you mean '/users/:id'?",
      ],
      [
        8,
        14,
        'schema/pattern',
        "handler '../secrets:key' is not valid: a handler is module:export or module (its default export) inside the functions folder, e.g. messages:postMessage or dir/file:fn, without . or .. segments",
        undefined,
      ],
      [
        12,
        44,
        'schema/pattern',
        "cors.allowHeaders[0] 'X Custom' is not valid: a header name is letters, digits and !#$%&'*+.^_`|~- only (no spaces or colons)",
        undefined,
      ],
    ],
  );
});

test('a path written with {braces} gets a :name hint', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /users/{id}
        method: GET
        handler: a
  `);
  assert.equal(only(result, 'schema/pattern').hint, "did you mean '/users/:id'?");
});

test('numbers out of range are schema/minimum and schema/maximum', async () => {
  const result = await load(yaml`
    version: 1
    server:
      port: 70000
    backend:
      pool: 0
      database: postgres://db.example.com/app
    routes: []
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [3, 9, 'schema/maximum', 'server.port must be <= 65535, not 70000'],
      [5, 9, 'schema/minimum', 'backend.pool must be >= 1, not 0'],
    ],
  );
});

test('too short strings and lists are schema/minLength and schema/minItems', async () => {
  const result = await load(yaml`
    version: 1
    functions: ""
    api:
      adminKey: short
    routes:
      - path: /a
        method: []
        handler: a
  `, { functions: true });
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [2, 12, 'schema/minLength', 'functions must not be empty'],
      [4, 13, 'schema/minLength', 'api.adminKey must be at least 16 characters long (it has 5)'],
      [7, 13, 'schema/minItems', 'method must not be an empty list'],
    ],
  );
});

test('a repeated list item is schema/uniqueItems at the repeat', async () => {
  const result = await load(yaml`
    version: 1
    routes:
      - path: /a
        method: [GET, POST, GET]
        handler: a
  `);
  assert.deepEqual(locations(result), ['routes.yaml:4:25 schema/uniqueItems']);
  assert.equal(result.diagnostics[0]!.message, "method lists 'GET' more than once");
});

test('a value fitting no anyOf form is one schema/anyOf message listing the forms', async () => {
  const result = await load(yaml`
    version: 1
    cors: true
    limits:
      body: true
      timeout: [1]
    routes:
      - path: /a
        method: 5
        handler: a
        cors: yes
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [2, 7, 'schema/anyOf', 'cors must be false (CORS off) or a CORS policy mapping, not true'],
      [4, 9, 'schema/anyOf', 'limits.body must be a size: a number of bytes, or a string such as 512kb, 20mb or 1gb, not true'],
      [5, 12, 'schema/anyOf', 'limits.timeout must be a duration: a number of milliseconds, or a string such as 500ms, 30s or 2m, not a list'],
      [8, 13, 'schema/anyOf', 'method must be a method (GET, POST, PUT, PATCH, DELETE, OPTIONS) or a list of methods, not 5'],
      [10, 11, 'schema/anyOf', "cors must be false (CORS off) or a CORS policy mapping merged over the top-level one, not 'yes'"],
    ],
  );
});

test('a value fitting one anyOf form reports only that form’s errors', async () => {
  const result = await load(yaml`
    version: 1
    limits:
      body: 20 megs
      timeout: -5
    routes:
      - path: /a
        method: GET
        handler: a
        cors: { origins: https://a.example.com, maxAge: -1 }
  `);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.line, d.column, d.rule, d.message]),
    [
      [3, 9, 'schema/pattern', "limits.body '20 megs' is not valid: a size is a number with a unit b, kb, mb or gb, e.g. 512kb, 20mb, 1gb"],
      [4, 12, 'schema/minimum', 'limits.timeout must be >= 1, not -5'],
      [9, 22, 'schema/type', "cors.origins must be a list, not 'https://a.example.com'"],
      [9, 53, 'schema/minimum', 'cors.maxAge must be >= 0, not -1'],
    ],
  );
});

test('a quoted number where a number belongs hints at the quotes', async () => {
  const result = await load(yaml`
    version: 1
    cors:
      credentials: "true"
    routes: []
  `);
  const d = only(result, 'schema/type');
  assert.equal(d.message, "cors.credentials must be true or false, not 'true'");
  assert.equal(d.hint, 'remove the quotes: a quoted value is always a string');
});

test('an admin key with a colon is schema/pattern: `Convex <key>:<identity>` would split it', async () => {
  const result = await load(yaml`
    version: 1
    api:
      adminKey: abcdefgh:ijklmnopqrst
    routes: []
  `);
  assert.equal(result.config, null);
  const d = only(result, 'schema/pattern');
  assert.deepEqual([d.line, d.column], [3, 13]);
  assert.match(d.message, /no spaces or colons/);
});
