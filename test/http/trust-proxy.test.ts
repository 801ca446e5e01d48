import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

// server.trustProxy decides whether request.url's scheme and host, and the
// client address in the request log, come from X-Forwarded-* and Forwarded
// (RFC 7239), or from the socket and Host. Any client can send those headers,
// so by default they are ignored.

const files = {
  'functions/app.ts': `
import { httpAction } from 'portico';
export const where = httpAction(async (ctx, request) => Response.json({ url: request.url }));
`,
};
const routes = `  - { path: /where, method: GET, handler: "app:where" }`;

async function withGateway(server: string, run: (gateway: RunningGateway) => Promise<void>): Promise<void> {
  const dir = await makeProject({ 'routes.yaml': routesYaml(routes, server), ...files });
  const gateway = await startGateway(dir);
  try {
    await run(gateway);
  } finally {
    await gateway.stop();
    await removeProject(dir);
  }
}

/** request.url as the handler saw it, and the client the request log recorded. */
async function ask(gateway: RunningGateway, headers: Record<string, string>): Promise<{ url: string; client: unknown }> {
  const id = `trust-${Math.random().toString(36).slice(2)}`;
  const response = await fetch(`${gateway.url}/where?q=1`, { headers: { ...headers, 'x-request-id': id } });
  const { url } = (await response.json()) as { url: string };
  const line = await gateway.waitForLog((l) => l.reqId === id && l.msg === 'request');
  return { url, client: line.client };
}

const PROXIED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example.com', 'x-forwarded-for': '203.0.113.9, 198.51.100.7' };

describe('server.trustProxy', () => {
  // Bug: X-Forwarded-Proto was believed from any client.
  test('off (the default): scheme from the socket, host from Host, client from the socket, whatever the headers say', async () => {
    await withGateway('', async (gateway) => {
      const direct = await ask(gateway, PROXIED);
      assert.equal(direct.url, `http://127.0.0.1:${gateway.port}/where?q=1`);
      assert.equal(direct.client, '127.0.0.1');
      const standard = await ask(gateway, { forwarded: 'for=203.0.113.9;proto=https;host=public.example.com' });
      assert.equal(standard.url, `http://127.0.0.1:${gateway.port}/where?q=1`);
      assert.equal(standard.client, '127.0.0.1');
    });
  });

  test('a list that names the proxy (loopback): scheme, host and client from the forwarding headers', async () => {
    await withGateway('server: { trustProxy: [loopback] }', async (gateway) => {
      const proxied = await ask(gateway, PROXIED);
      assert.equal(proxied.url, 'https://public.example.com/where?q=1');
      // 198.51.100.7 is the hop in front of the trusted proxy, and is not trusted itself.
      assert.equal(proxied.client, '198.51.100.7');
      const standard = await ask(gateway, { forwarded: 'for=203.0.113.9, for="[2001:db8::17]:4711";proto=https;host=api.example.com' });
      assert.equal(standard.client, '2001:db8::17');
      const plain = await ask(gateway, {});
      assert.equal(plain.url, `http://127.0.0.1:${gateway.port}/where?q=1`);
      assert.equal(plain.client, '127.0.0.1');
      // A forwarded host that is not host[:port] is not taken.
      const hostile = await ask(gateway, { 'x-forwarded-host': 'evil.test/path@x', 'x-forwarded-proto': 'gopher' });
      assert.equal(hostile.url, `http://127.0.0.1:${gateway.port}/where?q=1`);
    });
  });

  test('a list that does not name the proxy: the headers are ignored', async () => {
    await withGateway('server: { trustProxy: [10.0.0.0/8, "fd00::/8"] }', async (gateway) => {
      const proxied = await ask(gateway, PROXIED);
      assert.equal(proxied.url, `http://127.0.0.1:${gateway.port}/where?q=1`);
      assert.equal(proxied.client, '127.0.0.1');
    });
  });

  test('true trusts every hop; a number trusts that many', async () => {
    await withGateway('server: { trustProxy: true }', async (gateway) => {
      assert.equal((await ask(gateway, PROXIED)).client, '203.0.113.9');
    });
    await withGateway('server: { trustProxy: 1 }', async (gateway) => {
      const proxied = await ask(gateway, PROXIED);
      assert.equal(proxied.client, '198.51.100.7');
      assert.equal(proxied.url, 'https://public.example.com/where?q=1');
    });
  });
});
