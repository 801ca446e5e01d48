import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startUpstream, type UpstreamProcess } from './upstream.js';

// A gigabyte each way through a proxy route: the gateway streams it, so its
// resident memory grows by far less than the body (the issue allows 64 MiB).

const GIB = 1024 * 1024 * 1024;
const ALLOWED_GROWTH = 64 * 1024 * 1024;

/** Starts the kernel's peak-RSS counter (VmHWM) of `pid` afresh (Linux: clear_refs 5), where allowed. */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not allowed here: the peak then covers the whole process life, which only makes the check stricter.
  }
}

/** Resident memory and its peak (VmHWM) of a process, in bytes, from /proc. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('proxy streaming', () => {
  let upstream: UpstreamProcess;
  let dir: string;
  let gateway: RunningGateway;

  before(async () => {
    upstream = await startUpstream('big');
    dir = await makeProject({
      'functions/.keep': '',
      'routes.yaml': routesYaml(`  - pathPrefix: /big/
    method: [GET, POST]
    proxy: { upstream: ${upstream.url}, stripPrefix: true }`),
    });
    gateway = await startGateway(dir);
    // Warm up: pools, JIT, the first buffers.
    for (let i = 0; i < 3; i++) await download(`${gateway.url}/big/bytes/${8 * 1024 * 1024}`);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.stop();
    if (dir) await removeProject(dir);
  });

  it('downloads 1 GiB whole while the gateway grows by less than 64 MiB', async (t) => {
    resetPeak(gateway.child.pid!);
    const before = memory(gateway.child.pid!);
    const received = await download(`${gateway.url}/big/bytes/${GIB}`);
    const after = memory(gateway.child.pid!);
    t.diagnostic(`gateway resident memory: ${(before.rss / 2 ** 20).toFixed(1)} MiB before, peak ${(after.peak / 2 ** 20).toFixed(1)} MiB`);
    assert.equal(received, GIB);
    assert.ok(after.peak - before.rss < ALLOWED_GROWTH, `peak grew by ${((after.peak - before.rss) / 2 ** 20).toFixed(1)} MiB`);
  });

  it('uploads 1 GiB whole while the gateway grows by less than 64 MiB', async (t) => {
    resetPeak(gateway.child.pid!);
    const before = memory(gateway.child.pid!);
    const answer = await upload(`${gateway.url}/big/count`, GIB);
    const after = memory(gateway.child.pid!);
    t.diagnostic(`gateway resident memory: ${(before.rss / 2 ** 20).toFixed(1)} MiB before, peak ${(after.peak / 2 ** 20).toFixed(1)} MiB`);
    assert.deepEqual(JSON.parse(answer), { bytes: GIB, name: 'big' });
    assert.ok(after.peak - before.rss < ALLOWED_GROWTH, `peak grew by ${((after.peak - before.rss) / 2 ** 20).toFixed(1)} MiB`);
  });
});

function download(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    }).on('error', reject);
  });
}

function upload(url: string, total: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-length': String(total) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(256 * 1024, 'u');
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}
