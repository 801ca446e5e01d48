import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';

// storage.inlineTypes, the one way to serve more types inline, is checked
// like every other key: a value that is not a media type is refused with
// FILE:LINE:COL, and a valid list passes.

const yaml = (inlineTypes: string) => `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage:
  kind: fs
  inlineTypes: ${inlineTypes}
routes: []
`;

test('storage.inlineTypes: media types pass, anything else is an error at its line', async (t) => {
  const check = async (inlineTypes: string) => {
    const dir = await makeProject({ 'routes.yaml': yaml(inlineTypes), 'functions/.keep': '' });
    t.after(() => removeProject(dir));
    return runCli(['validate', '-c', `${dir}/routes.yaml`]);
  };
  const valid = await check('[image/svg+xml, "text/*", application/vnd.api+json]');
  assert.equal(valid.code, 0, valid.stdout + valid.stderr);
  for (const bad of ['["text/html; charset=utf-8"]', '["*/*"]', '[html]', 'image/svg+xml', '[image/png, image/png]', '["text/html\\r\\nX-Evil: 1"]']) {
    const refused = await check(bad);
    assert.equal(refused.code, 1, `${bad}: ${refused.stdout}${refused.stderr}`);
    assert.match(refused.stdout + refused.stderr, /routes\.yaml:6:\d+: error: .*inlineTypes/, bad);
  }
});
