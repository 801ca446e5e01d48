// compression: br and gzip chosen from Accept-Encoding with q-values, above
// the threshold only, nothing done for HEAD, 204/304, ranges, encoded answers
// and compressed types, Vary: Accept-Encoding appended to the handler's own,
// streams compressed as they stream; checked with curl --compressed and in
// Chromium.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { browserMissing, closeBrowser, launchBrowser } from '../helpers/browser.js';

const ORIGIN = 'https://app.example.com';
const BIG = 'portico '.repeat(2000);

const HANDLERS = `import { httpAction } from 'portico';
const BIG = ${JSON.stringify(BIG)};
export const big = httpAction(async () => new Response(BIG, { headers: { 'content-type': 'text/plain; charset=utf-8', vary: 'Cookie', etag: '"v1"' } }));
export const json = httpAction(async () => Response.json({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: 'item ' + i })) }));
export const small = httpAction(async () => new Response('tiny'));
export const png = httpAction(async () => new Response(new Uint8Array(5000), { headers: { 'content-type': 'image/png' } }));
export const empty = httpAction(async () => new Response(null, { status: 204 }));
export const notModified = httpAction(async () => new Response(null, { status: 304 }));
export const partial = httpAction(async () => new Response(BIG.slice(0, 2000), { status: 206, headers: { 'content-type': 'text/plain', 'content-range': 'bytes 0-1999/16000' } }));
export const encoded = httpAction(async () => new Response(BIG, { headers: { 'content-type': 'text/plain', 'content-encoding': 'identity-custom' } }));
export const page = httpAction(async () => new Response('<!doctype html><title>compressed</title><p id="p">' + BIG + '</p>', { headers: { 'content-type': 'text/html; charset=utf-8' } }));
export const stream = httpAction(async () => {
  let n = 0;
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async pull(controller) {
      if (n === 3) return controller.close();
      if (n > 0) await new Promise((r) => setTimeout(r, 400));
      controller.enqueue(encoder.encode('event ' + n++ + '\\n'));
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
});
`;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: Buffer;
}

function fetchRaw(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function decode(raw: Raw): string {
  const encoding = raw.headers['content-encoding'];
  if (encoding === 'br') return zlib.brotliDecompressSync(raw.bytes).toString();
  if (encoding === 'gzip') return zlib.gunzipSync(raw.bytes).toString();
  return raw.bytes.toString();
}

describe('compression', () => {
  let dir: string;
  let gw: RunningGateway;
  before(async () => {
    const route = (path: string, handler: string, extra = '') => `  - { path: ${path}, method: GET, handler: h:${handler}${extra} }`;
    dir = await makeProject({
      'functions/h.ts': HANDLERS,
      'routes.yaml': routesYaml(
        [
          route('/big', 'big'),
          route('/json', 'json'),
          route('/small', 'small'),
          route('/png', 'png'),
          route('/empty', 'empty'),
          route('/not-modified', 'notModified'),
          route('/partial', 'partial'),
          route('/encoded', 'encoded'),
          route('/page', 'page'),
          route('/stream', 'stream'),
          route('/gzip-only', 'big', ', compression: { encodings: [gzip] }'),
          route('/off', 'big', ', compression: false'),
        ].join('\n'),
        `compression: { threshold: 1kb }\ncors: { origins: ["${ORIGIN}"] }`,
      ),
    });
    gw = await startGateway(dir);
  });
  after(async () => {
    await gw?.stop();
    await removeProject(dir);
  });

  test('br is preferred when the client accepts both at the same q; the body decodes to the original', async () => {
    const raw = await fetchRaw(gw.port, '/big', { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(raw.status, 200);
    assert.equal(raw.headers['content-encoding'], 'br');
    assert.equal(decode(raw), BIG);
    assert.ok(raw.bytes.length < BIG.length / 10, `compressed to ${raw.bytes.length} of ${BIG.length} bytes`);
    assert.equal(raw.headers['content-length'], undefined === raw.headers['transfer-encoding'] ? String(raw.bytes.length) : undefined);
    assert.equal(raw.headers.etag, 'W/"v1"');
  });

  test('q-values decide: gzip;q=1, br;q=0.5 gives gzip; br;q=0 and an unknown coding give no br', async () => {
    const gz = await fetchRaw(gw.port, '/big', { 'accept-encoding': 'gzip;q=1, br;q=0.5' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(decode(gz), BIG);
    const refused = await fetchRaw(gw.port, '/big', { 'accept-encoding': 'br;q=0, zstd' });
    assert.equal(refused.headers['content-encoding'], undefined);
    assert.equal(refused.bytes.toString(), BIG);
    const none = await fetchRaw(gw.port, '/big');
    assert.equal(none.headers['content-encoding'], undefined);
    const star = await fetchRaw(gw.port, '/big', { 'accept-encoding': '*' });
    assert.equal(star.headers['content-encoding'], 'br');
  });

  test('Vary: Accept-Encoding is appended to the handler\'s Vary and to Origin, never replacing them', async () => {
    const raw = await fetchRaw(gw.port, '/big', { 'accept-encoding': 'gzip', origin: ORIGIN });
    const vary = String(raw.headers.vary).split(',').map((s) => s.trim().toLowerCase());
    assert.ok(vary.includes('cookie') && vary.includes('accept-encoding') && vary.includes('origin'), `Vary: ${raw.headers.vary}`);
    assert.equal(raw.headers['access-control-allow-origin'], ORIGIN);
    const plain = await fetchRaw(gw.port, '/big');
    assert.match(String(plain.headers.vary), /Accept-Encoding/, 'the uncompressed answer varies too');
  });

  test('JSON is compressed; a route can narrow the encodings or turn compression off', async () => {
    const raw = await fetchRaw(gw.port, '/json', { 'accept-encoding': 'br' });
    assert.equal(raw.headers['content-encoding'], 'br');
    assert.equal(JSON.parse(decode(raw)).items.length, 300);
    assert.equal((await fetchRaw(gw.port, '/gzip-only', { 'accept-encoding': 'br, gzip' })).headers['content-encoding'], 'gzip');
    const off = await fetchRaw(gw.port, '/off', { 'accept-encoding': 'br, gzip' });
    assert.equal(off.headers['content-encoding'], undefined);
    assert.equal(off.headers.vary, 'Cookie, Origin', 'no Accept-Encoding where nothing is negotiated');
  });

  test('left as they are: under the threshold, images, HEAD, 204, 304, ranges, already encoded', async () => {
    const ae = { 'accept-encoding': 'br, gzip' };
    const small = await fetchRaw(gw.port, '/small', ae);
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.bytes.toString(), 'tiny');
    assert.equal((await fetchRaw(gw.port, '/png', ae)).headers['content-encoding'], undefined);
    const head = await fetchRaw(gw.port, '/big', ae, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.bytes.length, 0);
    assert.equal((await fetchRaw(gw.port, '/empty', ae)).status, 204);
    assert.equal((await fetchRaw(gw.port, '/empty', ae)).headers['content-encoding'], undefined);
    assert.equal((await fetchRaw(gw.port, '/not-modified', ae)).headers['content-encoding'], undefined);
    const partial = await fetchRaw(gw.port, '/partial', ae);
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['content-encoding'], undefined);
    assert.equal(partial.bytes.length, 2000);
    const encoded = await fetchRaw(gw.port, '/encoded', ae);
    assert.equal(encoded.headers['content-encoding'], 'identity-custom');
  });

  test('a streamed answer is compressed as it streams: the first event arrives before the last is produced', async () => {
    const started = performance.now();
    const arrivals: { at: number; text: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, path: '/stream', headers: { 'accept-encoding': 'gzip' } }, (res) => {
        assert.equal(res.headers['content-encoding'], 'gzip');
        const gunzip = zlib.createGunzip();
        res.pipe(gunzip);
        gunzip.setEncoding('utf8');
        gunzip.on('data', (text: string) => arrivals.push({ at: performance.now() - started, text }));
        gunzip.on('end', resolve);
        gunzip.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(arrivals.map((a) => a.text).join(''), 'event 0\nevent 1\nevent 2\n');
    assert.ok(arrivals.length >= 3, `the events arrived in ${arrivals.length} pieces`);
    assert.ok(arrivals[0]!.at < arrivals.at(-1)!.at - 500, `first piece at ${Math.round(arrivals[0]!.at)} ms, last at ${Math.round(arrivals.at(-1)!.at)} ms`);
  });

  test('curl --compressed gets the original text and sees the encoding', async () => {
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--compressed', '-D', '-', `${gw.url}/big`], { maxBuffer: 1 << 24 });
    const [head, body] = stdout.split(/\r\n\r\n/, 2);
    assert.match(head!, /^content-encoding: (br|gzip)\r?$/im);
    assert.equal(body, BIG);
  });

  test('Chromium loads a compressed page and reads its text', async (t) => {
    if (browserMissing(t, 'the browser compression test')) return;
    const browser = (await launchBrowser())!;
    try {
      const page = await browser.newPage();
      const response = await page.goto(`${gw.url}/page`);
      assert.equal(response!.status(), 200);
      assert.equal((await response!.allHeaders())['content-encoding'], 'br');
      assert.equal(await page.textContent('#p'), BIG);
      const fetched = await page.evaluate(async () => {
        const r = await fetch('/json');
        return { encoding: r.headers.get('content-encoding'), count: (await r.json()).items.length };
      });
      assert.deepEqual(fetched, { encoding: 'br', count: 300 });
    } finally {
      await closeBrowser(browser);
    }
  });
});
