import assert from 'node:assert/strict';
import { copyFile, rename, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { after, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { issue, makeCa, type TestCa } from './certs.js';
import { connectH2, h2Request } from './h2-client.js';

// Certificate rotation under load: HTTP/2 requests on one long-lived
// connection and HTTP/1.1 requests each on a new connection run the whole
// time; new files and a SIGHUP (serve) or a save (dev) put the new
// certificate on new connections, and not one request fails. A mismatched
// pair is refused and the certificate in use keeps serving.

const FUNCTIONS = { 'functions/web.ts': "import { httpAction } from 'portico';\nexport const hello = httpAction(async () => new Response('hello'));\n" };
const ROUTES = '\n  - path: /hello\n    method: GET\n    handler: web:hello\n';

interface Load {
  stop(): Promise<{ ok: number; failures: string[]; serials: string[] }>;
  /** Serial numbers seen by HTTP/1.1 connections opened so far. */
  serials: string[];
  h2ok(): number;
}

/** Requests without pause: HTTP/2 on `session`, HTTP/1.1 on a fresh TLS connection each. */
function startLoad(port: number, ca: TestCa, session: import('node:http2').ClientHttp2Session): Load {
  let running = true;
  let ok = 0;
  let h2 = 0;
  const failures: string[] = [];
  const serials: string[] = [];
  const h1Once = () =>
    new Promise<void>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, servername: 'localhost', path: '/hello', ca: ca.pem, agent: false }, (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode === 200 && body === 'hello') {
            ok += 1;
            serials.push(serial);
          } else failures.push(`h1 ${res.statusCode} ${body}`);
          resolve();
        });
      });
      req.on('error', (error) => {
        failures.push(`h1 ${error.message}`);
        resolve();
      });
    });
  const h2Once = async () => {
    try {
      const answer = await h2Request(session, { ':path': '/hello' });
      if (answer.status === 200 && answer.body === 'hello') {
        ok += 1;
        h2 += 1;
      } else failures.push(`h2 ${answer.status}`);
    } catch (error) {
      failures.push(`h2 ${(error as Error).message}`);
    }
  };
  const loop = async (once: () => Promise<void>) => {
    while (running) await once();
  };
  const loops = [loop(h1Once), loop(h1Once), loop(h2Once), loop(h2Once)];
  return {
    serials,
    h2ok: () => h2,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failures, serials };
    },
  };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Puts `from`'s pair in place the way certificate tools do: a new file renamed over the old. */
async function install(pair: { cert: string; key: string }, tlsDir: string): Promise<void> {
  await copyFile(pair.cert, path.join(tlsDir, 'server.crt.new'));
  await copyFile(pair.key, path.join(tlsDir, 'server.key.new'));
  await rename(path.join(tlsDir, 'server.key.new'), path.join(tlsDir, 'server.key'));
  await rename(path.join(tlsDir, 'server.crt.new'), path.join(tlsDir, 'server.crt'));
}

for (const command of ['serve', 'dev'] as const) {
  describe(`certificate rotation (${command})`, () => {
    let dir: string;
    let gateway: RunningGateway | undefined;

    after(async () => {
      await gateway?.stop();
      if (dir) await removeProject(dir);
    });

    test(`new connections get the new certificate without one failed request; a mismatched pair is refused`, async () => {
      dir = await makeProject(FUNCTIONS);
      const ca = makeCa(path.join(dir, 'ca'));
      const issued = path.join(dir, 'issued');
      const one = issue(ca, issued, 'one');
      const two = issue(ca, issued, 'two');
      const three = issue(ca, issued, 'three');
      const tlsDir = path.join(dir, 'tls');
      await (await import('node:fs/promises')).mkdir(tlsDir);
      await install(one, tlsDir);
      await writeFile(path.join(dir, 'routes.yaml'), routesYaml(ROUTES, 'server:\n  tls: { cert: ./tls/server.crt, key: ./tls/server.key }\n'));
      gateway = await startGateway(dir, { command, timeoutMs: 60_000 });
      const session = await connectH2(`https://localhost:${gateway.port}`, ca.pem);
      const load = startLoad(gateway.port, ca, session);
      try {
        await until(() => load.serials.length >= 5 && load.h2ok() >= 5, 20_000, 'requests before the rotation');
        assert.ok(load.serials.every((serial) => serial === one.serial));

        await install(two, tlsDir);
        if (command === 'serve') gateway.child.kill('SIGHUP');
        await gateway.waitForLog((line) => line.event === 'tls-rotated', 20_000);
        const seenAt = load.serials.length;
        await until(() => load.serials.length >= seenAt + 10, 20_000, 'requests after the rotation');
        assert.equal(load.serials.at(-1), two.serial, 'a new connection after the rotation');

        // The certificate of one pair and the key of another: refused, the
        // pair in use keeps serving.
        const installed = { cert: three.cert, key: one.key };
        await install(installed, tlsDir);
        if (command === 'serve') gateway.child.kill('SIGHUP');
        await gateway.waitForLog((line) => line.event === 'reload-refused', 20_000);
        const refusedAt = load.serials.length;
        await until(() => load.serials.length >= refusedAt + 10, 20_000, 'requests after the refused pair');
        assert.ok(load.serials.slice(refusedAt).every((serial) => serial === two.serial), 'still the second certificate');
        const refusal = gateway.logs().find((line) => line.event === 'reload-refused' && /does not belong to the certificate/.test(line.msg));
        assert.ok(refusal, 'the refusal says the key does not belong to the certificate');
      } finally {
        const { ok, failures } = await load.stop();
        session.close();
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests failed`);
        assert.ok(ok > 50, `only ${ok} requests ran`);
      }
    });
  });
}
