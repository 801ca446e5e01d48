import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { runCli } from '../helpers/gateway.js';
import { issue, makeCa, type TestCa } from './certs.js';

// `portico validate` on server.tls: the files exist, parse, belong together
// and are in date, each problem at FILE:LINE:COL of the `tls` key; an
// encrypted key opens with a passphrase from the environment.

const DAY = 86_400_000;
const FUNCTIONS = { 'functions/web.ts': "import { httpAction } from 'portico';\nexport const hello = httpAction(async () => new Response('hi'));\n" };
const ROUTES = '\n  - path: /hello\n    method: GET\n    handler: web:hello\n';

describe('portico validate on server.tls', () => {
  let dir: string;
  let ca: TestCa;

  before(async () => {
    dir = await makeProject(FUNCTIONS);
    ca = makeCa(path.join(dir, 'ca'));
    const out = path.join(dir, 'tls');
    issue(ca, out, 'good');
    issue(ca, out, 'other');
    issue(ca, out, 'old', { start: new Date(Date.now() - 90 * DAY), end: new Date(Date.now() - DAY) });
    issue(ca, out, 'soon', { end: new Date(Date.now() + 12 * DAY + 3_600_000) });
    issue(ca, out, 'locked', { passphrase: 'open sesame' });
  });

  after(async () => {
    if (dir) await removeProject(dir);
  });

  /** Writes routes.yaml with `tls` (YAML flow map) under server, and runs validate. */
  async function validate(tls: string, env: Record<string, string> = {}) {
    // Line 6: `server:`, line 7: `  port: 8443`, line 8: `  tls: ...` (its key at column 3).
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(ROUTES, `\nserver:\n  port: 8443\n  tls: ${tls}`));
    const result = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir, env });
    return { ...result, out: result.stdout + result.stderr };
  }

  test('a good pair is valid', async () => {
    const { code, out } = await validate('{ cert: ./tls/good.crt, key: ./tls/good.key }');
    assert.equal(code, 0, out);
    assert.doesNotMatch(out, /warning/);
  });

  test('a missing file: error at the tls key', async () => {
    const { code, out } = await validate('{ cert: ./tls/nothing.crt, key: ./tls/good.key }');
    assert.equal(code, 1);
    assert.match(out, /routes\.yaml:8:3: error: cannot read server\.tls\.cert .*nothing\.crt: no such file \[tls\/unreadable\]/);
  });

  test('a key that belongs to another certificate', async () => {
    const { code, out } = await validate('{ cert: ./tls/good.crt, key: ./tls/other.key }');
    assert.equal(code, 1);
    assert.match(out, /routes\.yaml:8:3: error: server\.tls\.key .*other\.key does not belong to the certificate in .*good\.crt \[tls\/mismatch\]/);
  });

  test('a file that is not PEM', async () => {
    await writeFile(path.join(dir, 'tls', 'junk.crt'), 'hello\n');
    const { code, out } = await validate('{ cert: ./tls/junk.crt, key: ./tls/good.key }');
    assert.equal(code, 1);
    assert.match(out, /routes\.yaml:8:3: error: server\.tls\.cert .*junk\.crt holds no PEM certificate.*\[tls\/invalid\]/);
  });

  test('an expired certificate is an error', async () => {
    const { code, out } = await validate('{ cert: ./tls/old.crt, key: ./tls/old.key }');
    assert.equal(code, 1);
    assert.match(out, /routes\.yaml:8:3: error: server\.tls\.cert .*old\.crt expired on \d{4}-\d\d-\d\dT.* \[tls\/expired\]/);
  });

  test('a certificate within 30 days of its end is a warning, and still valid', async () => {
    const { code, out } = await validate('{ cert: ./tls/soon.crt, key: ./tls/soon.key }');
    assert.equal(code, 0, out);
    assert.match(out, /routes\.yaml:8:3: warning: the certificate in server\.tls\.cert \(CN=localhost\) expires in 12 days, on .* \[tls\/expiring\]/);
  });

  test('an encrypted key opens with the passphrase from the environment, and not without it', async () => {
    const tls = '{ cert: ./tls/locked.crt, key: ./tls/locked.key, passphrase: "${TLS_PASSPHRASE}" }';
    const good = await validate(tls, { TLS_PASSPHRASE: 'open sesame' });
    assert.equal(good.code, 0, good.out);
    const wrong = await validate(tls, { TLS_PASSPHRASE: 'guess' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.out, /routes\.yaml:8:3: error: server\.tls\.passphrase does not open .*locked\.key \[tls\/invalid\]/);
    const none = await validate('{ cert: ./tls/locked.crt, key: ./tls/locked.key }');
    assert.equal(none.code, 1);
    assert.match(none.out, /server\.tls\.key .*locked\.key is encrypted: set server\.tls\.passphrase \[tls\/invalid\]/);
  });

  test('http2 without tls is flagged as having no effect', async () => {
    await writeFile(path.join(dir, 'routes.yaml'), routesYaml(ROUTES, '\nserver:\n  http2: true'));
    const { code, stdout, stderr } = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    const out = stdout + stderr;
    assert.equal(code, 0, out);
    assert.match(out, /warning: server\.http2 has no effect without server\.tls.*\[config\/ignored-key\]/);
  });
});
