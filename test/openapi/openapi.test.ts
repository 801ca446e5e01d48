import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS from 'openapi-typescript';
import { parse as parseYaml } from 'yaml';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';
import { runCli, startGateway } from '../helpers/gateway.js';

// The OpenAPI document of a project, checked by a real OpenAPI 3.1 validator
// and by a real consumer: openapi-typescript generates types from it, and a
// client written against those types must type-check (and a wrong call must not).

const FUNCTIONS = `import { httpAction, query, mutation, internalQuery, v } from 'portico';
export const list = query({ args: { author: v.string(), limit: v.optional(v.number()) }, returns: v.array(v.object({ author: v.string(), body: v.string() })), handler: async () => [] });
export const send = mutation({ args: { author: v.string(), body: v.string(), to: v.optional(v.id('users')) }, handler: async () => null });
export const secret = internalQuery({ args: {}, handler: async () => 1 });
export const page = httpAction(async () => new Response('ok'));
`;

const ROUTES = routesYaml(
  `  - path: /users/:id
    method: [GET, PATCH]
    handler: messages:page
    auth: required
    summary: One user
    description: Reads or changes **one** user.
    tags: [users]
  - path: /notes
    method: POST
    handler: messages:page
    bodyLimit: 1kb
    request:
      body: { type: object, required: [text], properties: { text: { type: string } } }
  - path: /search
    method: GET
    handler: messages:page
    rateLimit: { requests: 5, per: 10s }
    request:
      query: { type: object, required: [q], properties: { q: { type: string }, page: { type: integer } } }
  - pathPrefix: /svc/
    method: GET
    proxy: { upstream: http://10.1.2.3:8081 }
    tags: [upstream]`,
  `auth:\n  providers:\n    - { issuer: https://auth.example.com, audience: app, jwks: ./jwks.json }\n`,
);

describe('portico openapi', () => {
  let dir: string;
  let document: any;

  before(async () => {
    dir = await makeProject({ 'functions/messages.ts': FUNCTIONS, 'routes.yaml': ROUTES, 'jwks.json': JSON.stringify({ keys: [] }) });
    const { code, stdout, stderr } = await runCli(['openapi', '-c', path.join(dir, 'routes.yaml')]);
    assert.equal(code, 0, stderr);
    document = JSON.parse(stdout);
  });

  after(async () => {
    if (dir) await removeProject(dir);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
  });

  it('describes every route: {id} parameters, prefixes, methods, summary, description, tags, auth and errors', () => {
    const user = document.paths['/users/{id}'];
    assert.deepEqual(Object.keys(user).sort(), ['get', 'patch']);
    assert.deepEqual(user.get.parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
    assert.equal(user.get.summary, 'One user');
    assert.equal(user.get.description, 'Reads or changes **one** user.');
    assert.deepEqual(user.get.tags, ['users']);
    assert.deepEqual(user.get.security, [{ bearer: [] }]);
    assert.equal(user.get.responses['401'].$ref, '#/components/responses/Unauthorized');
    assert.equal(user.get.responses['504'].$ref, '#/components/responses/Timeout');
    assert.equal(document.paths['/notes'].post.responses['413'].$ref, '#/components/responses/PayloadTooLarge');
    assert.deepEqual(document.paths['/notes'].post.security, [{}, { bearer: [] }]);
    assert.deepEqual(document.paths['/notes'].post.requestBody.content['application/json'].schema.required, ['text']);
    const search = document.paths['/search'].get;
    assert.deepEqual(
      search.parameters.map((p: { name: string; in: string; required: boolean }) => [p.name, p.in, p.required]),
      [['q', 'query', true], ['page', 'query', false]],
    );
    assert.equal(search.responses['429'].$ref, '#/components/responses/TooManyRequests');
    assert.equal(document.paths['/notes'].post.responses['429'], undefined);
    const prefix = document.paths['/svc/{path}'].get;
    assert.equal(prefix.parameters[0]['x-portico-prefix'], '/svc/');
    assert.equal(prefix.responses['502'].$ref, '#/components/responses/BadGateway');
    assert.ok(!JSON.stringify(document).includes('10.1.2.3'), 'upstream addresses stay out of the document');
    assert.equal(document.components.securitySchemes.bearer.scheme, 'bearer');
    assert.match(document.components.securitySchemes.bearer.description, /https:\/\/auth\.example\.com/);
    assert.deepEqual(document.components.schemas.Error.required, ['code', 'message']);
    assert.ok(document.components.schemas.Error.properties.code.enum.includes('PayloadTooLarge'));
  });

  it('describes each public function with its args and returns as JSON Schema, and no internal one', () => {
    const list = document.paths['/api/run/messages/list'].post;
    const args = list.requestBody.content['application/json'].schema.properties.args;
    assert.deepEqual(args.required, ['author']);
    // The schemas describe values as convex_encoded_json sends them: a float may be {$float} (NaN, Infinity).
    assert.deepEqual(args.properties.limit.anyOf[0], { type: 'number' });
    const success = list.responses['200'].content['application/json'].schema.oneOf[0];
    assert.equal(success.properties.value.type, 'array');
    assert.ok(document.paths['/api/run/messages/send']);
    assert.equal(document.paths['/api/run/messages/send'].post.requestBody.content['application/json'].schema.properties.args.properties.to['x-convex-table'], 'users');
    assert.equal(document.paths['/api/run/messages/secret'], undefined);
    assert.equal(document.paths['/api/run/messages/page'], undefined, 'HTTP actions are routes, not functions');
  });

  it('prints the same document as YAML, and serves it at /_portico/openapi.json', async () => {
    const yaml = await runCli(['openapi', '-c', path.join(dir, 'routes.yaml'), '--format', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(parseYaml(yaml.stdout), document);
    const gateway = await startGateway(dir);
    try {
      const res = await fetch(`${gateway.url}/_portico/openapi.json`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /application\/json/);
      assert.deepEqual(await res.json(), document);
      assert.equal((await fetch(`${gateway.url}/_portico/openapi.json`, { method: 'POST' })).status, 405);
    } finally {
      await gateway.stop();
    }
  });

  it('generates types with openapi-typescript that a client type-checks against', async () => {
    const types = await openapiTS(structuredClone(document));
    await writeFile(path.join(dir, 'api-types.ts'), types);
    await writeFile(
      path.join(dir, 'client.ts'),
      `import type { paths } from './api-types.js';
type ListArgs = paths['/api/run/messages/list']['post']['requestBody']['content']['application/json']['args'];
type UserId = paths['/users/{id}']['get']['parameters']['path']['id'];
export const args: ListArgs = { author: 'ada', limit: 3 };
export const id: UserId = 'u1';
// @ts-expect-error author must be a string
export const wrong: ListArgs = { author: 1 };
// @ts-expect-error author is required
export const missing: ListArgs = { limit: 3 };
`,
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const check = await promisify(execFile)(process.execPath, [tsc, '--ignoreConfig', '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'nodenext', path.join(dir, 'client.ts')], { cwd: dir }).then(
      () => ({ code: 0, out: '' }),
      (error: { code: number; stdout: string }) => ({ code: error.code, out: error.stdout }),
    );
    assert.equal(check.code, 0, check.out);
  });
});
