// `portico routes` shows what each route ends up with once the top-level
// policies are merged: its rate limit, its request schemas, its compression.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli } from '../helpers/gateway.js';

test('portico routes lists each route\'s merged policies (middleware included), and the function API\'s rate limit', async () => {
  const dir = await makeProject({
    'mw.ts': 'export default async (_ctx: unknown, next: () => Promise<void>) => next();\n',
    'functions/h.ts': "import { httpAction } from 'portico';\nexport const a = httpAction(async () => new Response('a'));\n",
    'routes.yaml': routesYaml(
      `  - { path: /open, method: GET, handler: h:a, rateLimit: false, compression: false }
  - { path: /default, method: GET, handler: h:a }
  - path: /notes/:id
    method: POST
    handler: h:a
    rateLimit: { requests: 5, per: 10s, key: param:id }
    request: { body: { type: object }, params: { type: object } }
    compression: { encodings: [gzip] }
    middleware: [./mw.ts]`,
      'rateLimit: { requests: 100, per: 1m, key: header:X-Api-Key, store: "redis://127.0.0.1:6379", onStoreError: deny }\ncompression: true',
    ),
  });
  try {
    const { code, stdout, stderr } = await runCli(['routes', '--format', 'json'], { cwd: dir });
    assert.equal(code, 0, stderr);
    const rows = JSON.parse(stdout) as { method: string; path: string; policies: string }[];
    const of = (path: string) => rows.find((row) => row.path === path)!.policies;
    assert.equal(of('/open'), '-');
    assert.equal(of('/default'), 'rate 100/1m by header:x-api-key (redis, on error deny) · compress br,gzip ≥1024B');
    assert.equal(of('/notes/:id'), 'rate 5/10s by param:id (redis, on error deny) · request body,params · middleware ./mw.ts · compress gzip ≥1024B');
    assert.equal(of('/api/*'), 'rate 100/1m by header:x-api-key (redis, on error deny)');
    const text = await runCli(['routes'], { cwd: dir });
    assert.match(text.stdout, /^METHOD +PATH +HANDLER +CORS +AUTH +POLICIES$/m);
  } finally {
    await removeProject(dir);
  }
});
