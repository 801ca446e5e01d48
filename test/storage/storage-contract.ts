import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import contentDisposition from 'content-disposition';
import { rawRequest } from '../helpers/http.js';

// The contract of file storage, written once and run against every
// implementation behind ctx.storage and /api/storage: fs storage with its
// metadata on SQLite and on PostgreSQL, database storage on PostgreSQL, and
// a gateway tier whose files live on a remote function tier. Each factory
// starts a real gateway for a project holding FILES and ROUTES; the suite
// talks to it over sockets, as clients and functions would.

export const ADMIN_KEY = 'storage-contract-admin-key-0123456789';

export const FILES: Record<string, string> = {
  'functions/files.ts': `
import { httpAction, mutation, v } from 'portico';

const idOf = (request: Request) => new URL(request.url).searchParams.get('id') ?? '';
const attempt = async (run: () => Promise<unknown>) => {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, error: String((error as Error)?.message ?? error) };
  }
};

export const store = httpAction(async (ctx, request) => {
  const sha256 = new URL(request.url).searchParams.get('sha256');
  const blob = await request.blob();
  return Response.json(await attempt(() => ctx.storage.store(blob, sha256 ? { sha256 } : undefined)));
});
export const storeFile = httpAction(async (ctx, request) => {
  const name = new URL(request.url).searchParams.get('name')!;
  const file = new File([await request.arrayBuffer()], name, { type: request.headers.get('content-type') ?? '' });
  return Response.json(await attempt(() => ctx.storage.store(file)));
});
export const get = httpAction(async (ctx, request) => {
  const blob = await ctx.storage.get(idOf(request));
  if (blob === null) return Response.json({ found: false }, { status: 404 });
  return new Response(blob, { headers: { 'x-blob-type': blob.type } });
});
export const lookup = httpAction(async (ctx, request) => {
  const id = idOf(request);
  return Response.json({ url: await attempt(() => ctx.storage.getUrl(id)), metadata: await attempt(() => ctx.storage.getMetadata(id)) });
});
export const remove = httpAction(async (ctx, request) => Response.json(await attempt(() => ctx.storage.delete(idOf(request)))));
export const uploadUrl = httpAction(async (ctx) => Response.json({ url: await ctx.storage.generateUploadUrl() }));

export const storeInMutation = mutation({
  args: { text: v.string(), fail: v.boolean() },
  handler: async (ctx, { text, fail }) => {
    const id = await ctx.storage.store(new Blob([text], { type: 'text/plain' }));
    if (fail) throw new Error('rolled back: ' + id);
    return id;
  },
});
`,
};

export const ROUTES = `
  - { path: /store, method: POST, handler: "files:store" }
  - { path: /store-file, method: POST, handler: "files:storeFile" }
  - { path: /get, method: GET, handler: "files:get" }
  - { path: /lookup, method: GET, handler: "files:lookup" }
  - { path: /remove, method: POST, handler: "files:remove" }
  - { path: /upload-url, method: POST, handler: "files:uploadUrl" }
`;

export interface StorageHarness {
  /** The gateway clients talk to. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a gateway for a project of `files` on this storage; null after skipping (no server). */
export type StorageFactory = (t: TestContext, files: Record<string, string>) => Promise<StorageHarness | null>;

const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sha256B64 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64');

/** Ids that are no storage id, each with what GET /api/storage/<id> must answer. */
const HOSTILE_IDS: [string, number][] = [
  ['..%2F..%2Fetc%2Fpasswd', 400],
  ['%2e%2e', 400],
  ['..', 400],
  ['%00', 400],
  ['a%00b', 400],
  ['%E0%A4%A', 400],
  ['x'.repeat(5000), 400],
  ['CON', 400],
  ['%F0%9F%92%A9', 400],
  ['abc%20def', 400],
];

export function storageContract(name: string, factory: StorageFactory): void {
  test(`storage contract: ${name}`, { timeout: 240_000 }, async (t) => {
    const harness = await factory(t, FILES);
    if (!harness) return;
    t.after(() => harness.close());
    const { url } = harness;

    const store = async (bytes: Uint8Array, type: string, sha256?: string) => {
      const response = await fetch(`${url}/store${sha256 ? `?sha256=${encodeURIComponent(sha256)}` : ''}`, {
        method: 'POST',
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': type },
      });
      assert.equal(response.status, 200);
      return (await response.json()) as { ok: boolean; value?: string; error?: string };
    };
    const stored = async (bytes: Uint8Array, type: string) => {
      const result = await store(bytes, type);
      assert.equal(result.ok, true, JSON.stringify(result));
      return result.value!;
    };
    const lookup = async (id: string) => (await fetch(`${url}/lookup?id=${encodeURIComponent(id)}`)).json();
    const fileUrl = (id: string) => `${url}/api/storage/${id}`;
    const inert = (response: Response, what: string) => {
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', what);
      assert.match(response.headers.get('content-security-policy') ?? '', /^sandbox; default-src 'none'$/, what);
    };

    await t.test('store: the bytes, type and metadata come back identical through /api/storage and ctx.storage.get', async () => {
      const bytes = randomBytes(600 * 1024 + 13);
      const id = await stored(bytes, 'image/png');
      const served = await fetch(fileUrl(id));
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.equal(served.headers.get('content-length'), String(bytes.length));
      assert.equal(served.headers.get('etag'), `"${sha256Hex(bytes)}"`);
      assert.equal(served.headers.get('digest'), `sha-256=${sha256B64(bytes)}`);
      assert.equal(sha256Hex(new Uint8Array(await served.arrayBuffer())), sha256Hex(bytes));
      const viaGet = await fetch(`${url}/get?id=${id}`);
      assert.equal(viaGet.headers.get('x-blob-type'), 'image/png');
      assert.equal(sha256Hex(new Uint8Array(await viaGet.arrayBuffer())), sha256Hex(bytes));
      assert.deepEqual(await lookup(id), {
        url: { ok: true, value: fileUrl(id) },
        metadata: { ok: true, value: { storageId: id, sha256: sha256Hex(bytes), size: bytes.length, contentType: 'image/png' } },
      });
    });

    await t.test('store: an empty file, and a sha256 that does not match is refused and keeps nothing', async () => {
      const empty = await stored(new Uint8Array(0), 'text/plain');
      assert.equal((await lookup(empty)).metadata.value.size, 0);
      const served = await fetch(fileUrl(empty));
      assert.equal(served.status, 200);
      assert.equal((await served.arrayBuffer()).byteLength, 0);
      const bytes = randomBytes(1000);
      assert.equal((await store(bytes, 'text/plain', sha256B64(bytes))).ok, true);
      const refused = await store(bytes, 'text/plain', sha256B64(randomBytes(4)));
      assert.equal(refused.ok, false);
      assert.match(refused.error!, /sha256/i);
    });

    await t.test('ranges: 206 for one range, 416 for several or unsatisfiable ones, 304 for a matching ETag, HEAD without a body', async () => {
      const bytes = randomBytes(300 * 1024);
      const id = await stored(bytes, 'application/octet-stream');
      for (const [range, start, end] of [
        ['bytes=20-29', 20, 29],
        ['bytes=-10', bytes.length - 10, bytes.length - 1],
        ['bytes=262140-262150', 262140, 262150], // across a 256 KiB chunk boundary
        ['bytes=100-', 100, bytes.length - 1],
      ] as const) {
        const response = await fetch(fileUrl(id), { headers: { range } });
        assert.equal(response.status, 206, range);
        assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`, range);
        inert(response, range);
        assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes.subarray(start, end + 1), range);
      }
      for (const range of ['bytes=0-1,5-6', `bytes=${bytes.length}-`]) {
        const response = await fetch(fileUrl(id), { headers: { range } });
        assert.equal(response.status, 416, range);
        await response.arrayBuffer();
      }
      const etag = `"${sha256Hex(bytes)}"`;
      const conditional = await rawRequest(harness.port, `GET /api/storage/${id} HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\nConnection: close\r\n\r\n`);
      assert.equal(conditional.status, 304);
      assert.equal(conditional.headers['x-content-type-options'], 'nosniff');
      assert.equal(conditional.body, '');
      const head = await fetch(fileUrl(id), { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
      assert.equal((await head.arrayBuffer()).byteLength, 0);
    });

    await t.test('served files are inert: nosniff and a sandbox on every answer, active types as attachments', async () => {
      for (const [type, disposition] of [
        ['text/html', 'attachment'],
        ['image/svg+xml', 'attachment'],
        ['application/javascript', 'attachment'],
        ['text/xml', 'attachment'],
        ['application/xhtml+xml', 'attachment'],
        ['not a type', 'attachment'],
        ['image/png', 'inline'],
        ['text/plain; charset=utf-8', 'inline'],
      ] as const) {
        const response = await fetch(fileUrl(await stored(Buffer.from('<script>alert(1)</script>'), type)));
        assert.equal(response.status, 200, type);
        inert(response, type);
        assert.equal(response.headers.get('content-disposition'), disposition, type);
        await response.arrayBuffer();
      }
      const missing = await fetch(fileUrl('kg2bdkmg3vrvpt6yr2nn2rh1jd6z8hhn'));
      assert.ok(missing.status === 404 || missing.status === 400, String(missing.status));
      inert(missing, 'an answer without a file');
      await missing.arrayBuffer();
    });

    await t.test("a file's name, given at upload or by a File, is served back encoded (RFC 6266/5987), whatever it holds", async () => {
      const { url: upload } = await (await fetch(`${url}/upload-url`, { method: 'POST' })).json();
      const cases: [string, string, string, string][] = [
        // [Content-Disposition sent, Content-Type, name served, disposition]
        [`attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%0D%0ASet-Cookie%3A%20a%3Db.html`, 'text/html', 'résuméSet-Cookie: a=b.html', 'attachment'],
        ['attachment; filename="..\\\\..\\\\evil \\"quoted\\".png"', 'image/png', 'evil "quoted".png', 'inline'],
        [`inline; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.svg`, 'image/svg+xml', '日本語.svg', 'attachment'],
      ];
      for (const [sent, type, name, disposition] of cases) {
        const response = await fetch(upload, { method: 'POST', body: 'x', headers: { 'content-type': type, 'content-disposition': sent } });
        assert.equal(response.status, 200, sent);
        const { storageId } = await response.json();
        const raw = await rawRequest(harness.port, `GET /api/storage/${storageId} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(raw.status, 200);
        const header = raw.headers['content-disposition'] as string;
        assert.match(header, /^[\x20-\x7e]+$/, `the header is plain ASCII: ${header}`);
        assert.equal(raw.headers['set-cookie'], undefined, 'a name cannot add a header');
        const parsed = contentDisposition.parse(header);
        assert.deepEqual([parsed.type, parsed.parameters.filename], [disposition, name], sent);
      }
      const file = await (await fetch(`${url}/store-file?name=${encodeURIComponent('photo 2024/été.png')}`, { method: 'POST', body: 'png', headers: { 'content-type': 'image/png' } })).json();
      assert.equal(file.ok, true, JSON.stringify(file));
      const served = contentDisposition.parse((await fetch(fileUrl(file.value))).headers.get('content-disposition')!);
      assert.deepEqual([served.type, served.parameters.filename], ['inline', 'été.png']);
      const unnamed = await fetch(fileUrl(await stored(Buffer.from('no name'), 'text/plain')));
      assert.equal(unnamed.headers.get('content-disposition'), 'inline');

      const malformed = await fetch(upload, { method: 'POST', body: 'x', headers: { 'content-disposition': 'attachment; filename="unterminated' } });
      assert.equal(malformed.status, 400);
      assert.equal((await malformed.json()).code, 'BadRequest');
    });

    await t.test('delete: the file is gone everywhere, and deleting it again throws "storage id <id> not found"', async () => {
      const id = await stored(Buffer.from('short-lived'), 'text/plain');
      assert.deepEqual(await (await fetch(`${url}/remove?id=${id}`, { method: 'POST' })).json(), { ok: true });
      const gone = await fetch(fileUrl(id));
      assert.equal(gone.status, 404);
      assert.equal((await gone.json()).code, 'FileNotFound');
      assert.deepEqual(await lookup(id), { url: { ok: true, value: null }, metadata: { ok: true, value: null } });
      assert.equal((await fetch(`${url}/get?id=${id}`)).status, 404);
      const again = await (await fetch(`${url}/remove?id=${id}`, { method: 'POST' })).json();
      assert.equal(again.ok, false);
      assert.match(again.error, new RegExp(`storage id ${id} not found`));
    });

    await t.test('upload URLs: an upload with the token is stored; a forged token and a bad Digest are refused', async () => {
      const { url: upload } = await (await fetch(`${url}/upload-url`, { method: 'POST' })).json();
      assert.match(upload, /\/api\/storage\/upload\?token=[A-Za-z0-9_.-]+$/);
      const bytes = randomBytes(70_000);
      const accepted = await fetch(upload, { method: 'POST', body: bytes, headers: { 'content-type': 'application/pdf', digest: `sha-256=${sha256B64(bytes)}` } });
      assert.equal(accepted.status, 200);
      const { storageId } = await accepted.json();
      assert.equal(sha256Hex(new Uint8Array(await (await fetch(fileUrl(storageId))).arrayBuffer())), sha256Hex(bytes));
      assert.equal((await lookup(storageId)).metadata.value.contentType, 'application/pdf');

      const forged = await fetch(`${url}/api/storage/upload?token=${encodeURIComponent('eyJ4IjoxfQ.AAAA')}`, { method: 'POST', body: 'x' });
      assert.equal(forged.status, 401);
      assert.equal((await forged.json()).code, 'StorageTokenInvalid');
      const mismatch = await fetch(upload, { method: 'POST', body: bytes, headers: { digest: `sha-256=${sha256B64(randomBytes(3))}` } });
      assert.equal(mismatch.status, 400);
      assert.equal((await mismatch.json()).code, 'Sha256Mismatch');
    });

    await t.test('a file stored by a mutation that fails is not there; one that commits is', async () => {
      const call = async (fail: boolean) =>
        (await fetch(`${url}/api/mutation`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ path: 'files:storeInMutation', args: { text: 'from a mutation', fail }, format: 'json' }),
        })).json();
      const committed = await call(false);
      assert.equal(committed.status, 'success', JSON.stringify(committed));
      assert.equal(Buffer.from(await (await fetch(fileUrl(committed.value))).arrayBuffer()).toString(), 'from a mutation');
      const failed = await call(true);
      assert.equal(failed.status, 'error');
      const id = /rolled back: ([0-9a-z]+)/.exec(failed.errorMessage)?.[1];
      assert.ok(id, failed.errorMessage);
      assert.equal((await fetch(fileUrl(id))).status, 404);
    });

    await t.test('hostile ids reach no file and no 500: over HTTP and through ctx.storage', async () => {
      for (const [id, status] of HOSTILE_IDS) {
        // Sent byte for byte: a URL parser would resolve the dot segments first.
        const response = await rawRequest(harness.port, `GET /api/storage/${id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(response.status, status, id.slice(0, 40));
        assert.equal(response.headers['x-content-type-options'], 'nosniff', id.slice(0, 40));
        assert.equal(JSON.parse(response.body).code, 'InvalidStoragePath', id.slice(0, 40));
      }
      for (const id of ['../../etc/passwd', '', '..', 'a/b', 'kg2bdkmg3vrvpt6yr2nn2rh1jd6z8hhn/..', '\u0000']) {
        const found = await lookup(id);
        for (const part of [found.url, found.metadata]) assert.ok(!part.ok || part.value === null, `${JSON.stringify(id)}: ${JSON.stringify(found)}`);
        assert.equal((await fetch(`${url}/get?id=${encodeURIComponent(id)}`)).status, 404, JSON.stringify(id));
        const removed = await (await fetch(`${url}/remove?id=${encodeURIComponent(id)}`, { method: 'POST' })).json();
        assert.equal(removed.ok, false, JSON.stringify(id));
      }
    });
  });
}
