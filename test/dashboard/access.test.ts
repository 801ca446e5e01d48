import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';

// Who may open /_portico/dashboard, over real sockets: the admin key's
// session, `portico dev` on loopback, nobody otherwise (404); changes need
// the dashboard's own header; with --workers the Logs view reads every worker.

const ADMIN_KEY = 'dashboard-admin-key-0123456789';
const FUNCTIONS = {
  'functions/app.ts': `
import { httpAction } from 'portico';
export const hello = httpAction(async () => new Response('hello'));
`,
};
const ROUTES = '  - { path: /hello, method: GET, handler: "app:hello" }';

function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', agent: false, headers: { connection: 'close', ...options.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const login = (url: string, key: string, headers: Record<string, string> = { 'x-portico-dashboard': '1' }) =>
  request(`${url}/_portico/dashboard/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key }) });

describe('dashboard access', () => {
  const dirs: string[] = [];
  const gateways: RunningGateway[] = [];
  const start = async (extra: string, options: Parameters<typeof startGateway>[1] = {}) => {
    const dir = await makeProject({ ...FUNCTIONS, 'routes.yaml': routesYaml(ROUTES, extra) });
    dirs.push(dir);
    const gateway = await startGateway(dir, options);
    gateways.push(gateway);
    return gateway;
  };
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await Promise.all(dirs.map(removeProject));
  });

  test('with no admin key and not in dev, there is no dashboard: 404', async () => {
    const gateway = await start('');
    for (const path of ['/_portico/dashboard', '/_portico/dashboard/app.js', '/_portico/dashboard/api/logs']) {
      assert.equal((await request(`${gateway.url}${path}`)).status, 404, path);
    }
    assert.equal((await login(gateway.url, 'anything')).status, 404);
  });

  test('dashboard: false turns it off even with an admin key', async () => {
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }\ndashboard: false`);
    assert.equal((await request(`${gateway.url}/_portico/dashboard`)).status, 404);
  });

  test('with the admin key: the page is public, its data needs a session that only the key opens', async () => {
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }`);
    const page = await request(`${gateway.url}/_portico/dashboard`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(page.body, /<script>|\son[a-z]+=|style=/i, 'no inline script, handler or style that the policy would have to allow');
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/overview`)).status, 401);

    assert.equal((await login(gateway.url, `${ADMIN_KEY}x`)).status, 401);
    assert.equal((await login(gateway.url, ADMIN_KEY, {})).status, 403, 'a login without the dashboard header (a form posted from elsewhere) is refused');
    const ok = await login(gateway.url, ADMIN_KEY);
    assert.equal(ok.status, 204);
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.doesNotMatch(cookie, /Secure/);
    const session = cookie.split(';')[0]!;
    const overview = await request(`${gateway.url}/_portico/dashboard/api/overview`, { headers: { cookie: session } });
    assert.equal(overview.status, 200);
    assert.equal(JSON.parse(overview.body).routes[0].path, '/hello');

    // A forged or altered session is refused.
    const [name, value] = session.split('=') as [string, string];
    const later = `${Number(value.split('.')[0]) + 1000}.${value.split('.')[1]}`;
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/overview`, { headers: { cookie: `${name}=${later}` } })).status, 401);
    // Changes need the header even with a session.
    const run = { method: 'POST', headers: { cookie: session, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'query', name: 'app:nothing', args: {} }) };
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/run`, run)).status, 403);
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/run`, { ...run, headers: { ...run.headers, 'x-portico-dashboard': '1' } })).status, 200);

    // Over https (a proxy says so), the cookie is Secure.
    const secure = await login(gateway.url, ADMIN_KEY, { 'x-portico-dashboard': '1', 'x-forwarded-proto': 'https' });
    assert.match(String(secure.headers['set-cookie']), /; Secure/);
  });

  test('portico dev opens it without a key on loopback, prints its URL, and not for another host name', async () => {
    const gateway = await start('', { command: 'dev' });
    assert.match(gateway.stderr(), /Dashboard: http:\/\/127\.0\.0\.1:\d+\/_portico\/dashboard/);
    const overview = await request(`${gateway.url}/_portico/dashboard/api/overview`);
    assert.equal(overview.status, 200);
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/overview`, { headers: { host: `localhost:${gateway.port}` } })).status, 200);
    // A page that rebinds its own name to 127.0.0.1 still sends its own Host.
    assert.equal((await request(`${gateway.url}/_portico/dashboard/api/overview`, { headers: { host: 'attacker.example' } })).status, 404);
  });

  test('the Logs view and the Health view carry deployment events: the start, and a refused reload with FILE:LINE:COL', async () => {
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }`);
    const session = String((await login(gateway.url, ADMIN_KEY)).headers['set-cookie']).split(';')[0]!;
    await writeFile(path.join(dirs.at(-1)!, 'routes.yaml'), routesYaml(ROUTES, `api: { adminKey: ${ADMIN_KEY} }\nmetrics: { acces: open }`));
    gateway.child.kill('SIGHUP');
    await gateway.waitForLog((line) => line.event === 'reload-refused' && /previous config keeps serving/.test(line.msg));
    const page = JSON.parse((await request(`${gateway.url}/_portico/dashboard/api/logs`, { headers: { cookie: session } })).body) as { lines: string[] };
    const lines = page.lines.map((line) => JSON.parse(line) as { msg: string; event?: string });
    assert.ok(lines.some((line) => line.msg === 'portico listening'));
    assert.ok(lines.some((line) => line.event === 'reload-refused' && /routes\.yaml:\d+:\d+: error: .*acces/.test(line.msg)), 'the refused reload points into routes.yaml');
    const { health } = JSON.parse((await request(`${gateway.url}/_portico/dashboard/api/overview`, { headers: { cookie: session } })).body) as { health: { reloads: string[] } };
    assert.ok(health.reloads.some((line) => /routes\.yaml:\d+:\d+: error/.test(line)));
  });

  test('with --workers 2 the Logs view has every worker\'s lines', async () => {
    const gateway = await start(`api: { adminKey: ${ADMIN_KEY} }`, { args: ['--workers', '2'] });
    const session = String((await login(gateway.url, ADMIN_KEY)).headers['set-cookie']).split(';')[0]!;
    for (let i = 0; i < 10; i++) assert.equal((await request(`${gateway.url}/hello?n=${i}`)).status, 200);
    let pids = new Set<number>();
    let lines: { pid: number; path?: string }[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const page = JSON.parse((await request(`${gateway.url}/_portico/dashboard/api/logs`, { headers: { cookie: session } })).body) as { lines: string[] };
      lines = page.lines.map((line) => JSON.parse(line));
      const hello = lines.filter((line) => line.path === '/hello');
      pids = new Set(hello.map((line) => line.pid));
      if (hello.length === 10) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(lines.filter((line) => line.path === '/hello').length, 10);
    assert.equal(pids.size, 2, 'lines from both workers');
  });
});
