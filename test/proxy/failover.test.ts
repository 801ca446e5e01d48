import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';

// Two upstream processes under steady load, one killed and restarted in the
// middle: with one retry, idempotent requests never see the failure (a
// refused connection goes to the other upstream, a broken one is retried
// there), and the restarted upstream gets traffic again after its cool-down.

describe('proxy failover under load', () => {
  let a: UpstreamProcess;
  let b: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
    dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /lb/
    method: GET
    proxy: { upstream: [${a.url}, ${b.url}], stripPrefix: true, retries: 1, cooldown: 300ms }`),
    });
    gateway = await startGateway(dir);
  });

  after(async () => {
    await gateway?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) await removeProject(dir);
  });

  it('answers every GET while an upstream is killed and restarted mid-load, then uses it again', async () => {
    const client = new Agent({ connections: 16 });
    const statuses = new Map<number, number>();
    const byUpstream = { before: new Map<string, number>(), after: new Map<string, number>() };
    let phase: 'before' | 'down' | 'after' = 'before';
    let running = true;
    const worker = async () => {
      while (running) {
        const res = await request(`${gateway.url}/lb/slow/5`, { dispatcher: client });
        const text = await res.body.text();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 200 && phase !== 'down') {
          const counts = byUpstream[phase];
          const name = text.slice('slow '.length);
          counts.set(name, (counts.get(name) ?? 0) + 1);
        }
      }
    };
    const workers = Array.from({ length: 12 }, worker);
    await new Promise((r) => setTimeout(r, 1000));
    phase = 'down';
    await a.stop();
    await new Promise((r) => setTimeout(r, 800));
    a = await startUpstream('a', a.port);
    await new Promise((r) => setTimeout(r, 700));
    phase = 'after';
    await new Promise((r) => setTimeout(r, 800));
    running = false;
    await Promise.all(workers);
    await client.close();

    const total = [...statuses.values()].reduce((x, y) => x + y, 0);
    assert.ok(total > 100, `only ${total} requests`);
    const warnings = () => JSON.stringify(gateway.logs().filter((l) => l.level >= 40).slice(-6));
    assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}; last warnings: ${warnings()}`);
    assert.ok((byUpstream.before.get('a') ?? 0) > 0 && (byUpstream.before.get('b') ?? 0) > 0, `both served before: ${JSON.stringify([...byUpstream.before])}`);
    assert.ok((byUpstream.after.get('a') ?? 0) > 0, `a is back in rotation after its restart: ${JSON.stringify([...byUpstream.after])}`);
    assert.ok(gateway.logs().some((l) => l.msg === 'upstream taken out of rotation' && l.upstream === a.url));
  });
});
