// request: {body, query, params, headers}: JSON Schemas checked before the
// handler runs, 400 with errors[] (path and message each), 415 for a body
// that is not JSON, query and params coerced, the handler reading the
// validated body without parsing it again, hostile and oversized input
// refused cleanly; a bad schema is a FILE:LINE:COL error at validate.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { get } from './rate-limit-helpers.js';

const ORIGIN = 'https://app.example.com';

const HANDLERS = `import { httpAction } from 'portico';
let calls = 0;
export const create = httpAction(async (ctx, request) => {
  calls++;
  const body = await request.json();
  // The validated value itself (defaults applied, which a parse of the bytes would not have); read once, as a Request.
  const again = await request.json().then(() => 'read twice', (e) => 'second read refused');
  return Response.json({ body, params: ctx.params, query: ctx.query, again });
});
export const search = httpAction(async (ctx) => Response.json({ query: ctx.query, params: ctx.params, types: Object.fromEntries(Object.entries({ ...ctx.params, ...ctx.query }).map(([k, v]) => [k, Array.isArray(v) ? 'array' : typeof v])) }));
export const raw = httpAction(async (ctx, request) => new Response(await request.text()));
export const calls_ = httpAction(async () => new Response(String(calls)));
export { calls_ as calls };
`;

const NOTE = JSON.stringify({
  $id: 'https://example.com/note.json',
  type: 'object',
  required: ['author', 'text'],
  additionalProperties: false,
  properties: { author: { type: 'string', minLength: 1 }, text: { type: 'string', maxLength: 200 }, tags: { type: 'array', items: { type: 'string' }, default: [] }, email: { type: 'string', format: 'email' } },
});

describe('request schemas', () => {
  let dir: string;
  let gw: RunningGateway;
  before(async () => {
    dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'schemas/note.json': NOTE,
      'routes.yaml': routesYaml(
        `  - path: /notes/:board
    method: POST
    handler: h:create
    bodyLimit: 64kb
    request:
      body: { $ref: ./schemas/note.json }
      params: { type: object, properties: { board: { type: integer, minimum: 1 } } }
      query: { type: object, properties: { dryRun: { type: boolean } }, additionalProperties: false }
  - path: /copy
    method: POST
    handler: h:raw
    request:
      body: { $ref: ./schemas/note.json }
  - path: /search/:page
    method: GET
    handler: h:search
    request:
      params: { type: object, properties: { page: { type: integer } } }
      query: { type: object, required: [q], properties: { q: { type: string }, limit: { type: integer, maximum: 50, default: 10 }, tag: { type: array, items: { type: string } } } }
      headers: { type: object, required: [x-client], properties: { x-client: { type: string, pattern: "^[a-z]+$" } } }
  - { path: /calls, method: GET, handler: h:calls }`,
        `cors: { origins: ["${ORIGIN}"] }`,
      ),
    });
    gw = await startGateway(dir);
  });
  after(async () => {
    await gw?.stop();
    await removeProject(dir);
  });

  const post = (url: string, body: string, type: string | null = 'application/json', extra: Record<string, string> = {}) =>
    get(gw.port, url, { method: 'POST', body, headers: { ...(type ? { 'content-type': type } : {}), origin: ORIGIN, ...extra } });

  test('a valid request reaches the handler with the validated body (defaults applied, read once) and coerced params and query', async () => {
    const answer = await post('/notes/7?dryRun=true', JSON.stringify({ author: 'ada', text: 'hi' }));
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.deepEqual(seen.body, { author: 'ada', text: 'hi', tags: [] });
    assert.deepEqual(seen.params, { board: 7 });
    assert.deepEqual(seen.query, { dryRun: true });
    assert.equal(seen.again, 'second read refused');
  });

  test('the handler can still read the raw bytes as sent', async () => {
    const text = '{ "author" : "ada",\n "text": "hi" }';
    const answer = await post('/copy', text);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, text);
  });

  test('an invalid body: 400 BadRequest with every problem as {path, message}, CORS and request id, and the handler does not run', async () => {
    const before = (await get(gw.port, '/calls')).body;
    const answer = await post('/notes/7', JSON.stringify({ author: 5, text: 'x'.repeat(300), extra: true }));
    assert.equal(answer.status, 400);
    const body = JSON.parse(answer.body);
    assert.equal(body.code, 'BadRequest');
    assert.match(body.message, /schema/);
    const paths = body.errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['/body/author', '/body/extra', '/body/text']);
    for (const error of body.errors) assert.equal(typeof error.message, 'string');
    assert.equal(answer.headers['access-control-allow-origin'], ORIGIN);
    assert.ok(answer.headers['x-request-id']);
    assert.equal((await get(gw.port, '/calls')).body, before);
  });

  test('a missing property is reported at its own path', async () => {
    const answer = await post('/notes/7', JSON.stringify({ text: 'hi' }));
    assert.equal(answer.status, 400);
    assert.deepEqual(JSON.parse(answer.body).errors, [{ path: '/body/author', message: 'is required' }]);
  });

  test('params and query that cannot be coerced are 400 at /params/... and /query/...', async () => {
    const answer = await post('/notes/zero?dryRun=maybe&x=1', JSON.stringify({ author: 'a', text: 't' }));
    assert.equal(answer.status, 400);
    const paths = JSON.parse(answer.body).errors.map((e: { path: string }) => e.path).sort();
    assert.deepEqual(paths, ['/params/board', '/query/dryRun', '/query/x']);
  });

  test('a body that is not JSON gets 415; malformed JSON gets 400', async () => {
    const form = await post('/notes/1', 'author=ada&text=hi', 'application/x-www-form-urlencoded');
    assert.equal(form.status, 415);
    assert.equal(JSON.parse(form.body).code, 'UnsupportedMediaType');
    assert.equal(form.headers['access-control-allow-origin'], ORIGIN);
    const untyped = await post('/notes/1', '{"author":"a","text":"t"}', null);
    assert.equal(untyped.status, 415);
    const ld = await post('/notes/1', '{"author":"a","text":"t"}', 'application/ld+json; charset=utf-8');
    assert.equal(ld.status, 200, 'a +json type is JSON');
    const broken = await post('/notes/1', '{"author": ', 'application/json');
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).errors[0].path, '/body');
    const empty = await post('/notes/1', '', null);
    assert.equal(empty.status, 400);
    assert.deepEqual(JSON.parse(empty.body).errors, [{ path: '/body', message: 'a JSON body is required' }]);
  });

  test('query coercion: integers, defaults and repeated names as arrays; headers checked', async () => {
    const answer = await get(gw.port, '/search/3?q=cats&tag=a&tag=b', { headers: { 'x-client': 'web' } });
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body);
    assert.deepEqual(seen.query, { q: 'cats', limit: 10, tag: ['a', 'b'] });
    assert.equal(seen.types.page, 'number');
    const single = JSON.parse((await get(gw.port, '/search/3?q=x&tag=only&limit=5', { headers: { 'x-client': 'web' } })).body);
    assert.deepEqual(single.query.tag, ['only']);
    assert.equal(single.query.limit, 5);
    const bad = await get(gw.port, '/search/3?limit=500', { headers: { 'x-client': 'WEB' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body).errors.map((e: { path: string }) => e.path).sort(), ['/headers/x-client', '/query/limit', '/query/q']);
  });

  test('hostile input: deep nesting, huge documents and __proto__ keys are refused cleanly; the gateway keeps serving', async () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    const deepAnswer = await post('/notes/1', deep);
    assert.ok(deepAnswer.status === 400 || deepAnswer.status === 413, `deep nesting: ${deepAnswer.status}`);
    const huge = JSON.stringify({ author: 'a', text: 'x'.repeat(100_000) });
    const hugeAnswer = await post('/notes/1', huge);
    assert.equal(hugeAnswer.status, 413);
    const proto = await post('/notes/1', '{"author":"a","text":"t","__proto__":{"polluted":true}}');
    assert.equal(proto.status, 400);
    assert.deepEqual(JSON.parse(proto.body).errors, [{ path: '/body/__proto__', message: 'is not allowed here' }]);
    const manyErrors = await post('/notes/1', JSON.stringify(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]))));
    assert.equal(manyErrors.status, 400);
    assert.ok(JSON.parse(manyErrors.body).errors.length <= 20, 'errors[] is bounded');
    assert.equal((await post('/notes/1', JSON.stringify({ author: 'a', text: 't' }))).status, 200);
  });
});

describe('request schemas in validate', () => {
  test('a schema that does not compile, a missing $ref file and a file that is not JSON are FILE:LINE:COL errors', async () => {
    const dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'schemas/broken.json': '{ "type": ',
      'routes.yaml': routesYaml(`  - path: /a
    method: POST
    handler: h:raw
    request:
      body: { type: object, properties: { n: { type: integr } } }
  - path: /b
    method: POST
    handler: h:raw
    request:
      body: { $ref: ./schemas/missing.json }
  - path: /c
    method: POST
    handler: h:raw
    request:
      query: { $ref: ./schemas/broken.json }`),
    });
    try {
      const result = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const out = result.stdout + result.stderr;
      assert.match(out, /routes\.yaml:11:13: error: request\.body is not a valid JSON Schema: .*\[policies\/request-schema\]/);
      assert.match(out, /routes\.yaml:16:21: error: request\.body schema file \.\/schemas\/missing\.json does not exist \[config\/missing-file\]/);
      assert.match(out, /routes\.yaml:21:22: error: request\.query schema file \.\/schemas\/broken\.json is not JSON: .*\[policies\/request-schema\]/);
    } finally {
      await removeProject(dir);
    }
  });
});
