import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, ROOT } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// The example app (routes.yaml and functions/ at the repository's root), as
// the README tries it: the image the README uploads exists in the
// repository and comes back byte for byte; an empty upload (a curl @path
// typo sends nothing) is refused with 400, not stored as an empty image.

const IMAGE = path.join(ROOT, 'examples', 'images', 'portico.png');

describe("the README's first screen", () => {
  test('its minimal routes.yaml and function module serve as shown', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const yaml = /```yaml\n# routes\.yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    const module = /```ts\n\/\/ functions\/hello\.ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(yaml && module, 'the README shows a routes.yaml and functions/hello.ts');
    assert.ok(readme.indexOf('functions/hello.ts') < 2500, 'on the first screen');
    const dir = await makeProject({ 'routes.yaml': yaml, 'functions/hello.ts': module });
    const gateway = await startGateway(dir, { timeoutMs: 60_000 });
    try {
      assert.deepEqual(await (await fetch(`${gateway.url}/hello?name=ada`)).json(), { hello: 'ada' });
    } finally {
      await gateway.stop();
      await removeProject(dir);
    }
  });
});

describe('the example app', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    const files: Record<string, string> = { 'routes.yaml': await readFile(path.join(ROOT, 'routes.yaml'), 'utf8') };
    for (const name of ['messages.ts', 'schema.ts', 'sendImage.ts', 'users.ts', 'demoAuth.ts']) files[`functions/${name}`] = await readFile(path.join(ROOT, 'functions', name), 'utf8');
    dir = await makeProject(files);
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  test('the README uploads an image that exists in the repository', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const uploads = [...readme.matchAll(/--data-binary @(\S+)/g)].map((match) => match[1]!);
    assert.ok(uploads.length > 0, 'the README shows an upload');
    for (const file of uploads) await readFile(path.join(ROOT, file));
  });

  test('an image upload is stored and served back byte for byte', async () => {
    const image = await readFile(IMAGE);
    const response = await fetch(`${gateway.url}/sendImage?author=ada`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: image });
    assert.equal(response.status, 200);
    const { url } = (await response.json()) as { url: string };
    const served = await fetch(url);
    assert.equal(served.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await served.arrayBuffer()), image);
  });

  test('an empty upload is refused with 400 EmptyUpload', async () => {
    const response = await fetch(`${gateway.url}/sendImage?author=ada`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: '' });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { code: string }).code, 'EmptyUpload');
    const list = (await (await fetch(`${gateway.url}/getMessagesByAuthor?author=ada`)).json()) as { format: string }[];
    assert.ok(list.filter((message) => message.format === 'image').length <= 1, 'nothing stored for the empty upload');
  });
});
