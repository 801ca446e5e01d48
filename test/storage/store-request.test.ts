import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageContextImpl } from '../../src/storage/storage-context.js';
import type { StoreOptions } from '../../src/storage/storage-service.js';

// ctx.storage.store(request): the request's body goes to storage as it is
// read, chunk by chunk, with the request's Content-Type; it is never
// gathered whole first. A body of 1,000 chunks is checked to be consumed
// while it is still being produced.

const CHUNK = 64 * 1024;
const CHUNKS = 1000;

function producingRequest(counter: { produced: number }, contentType: string | null): Request {
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (counter.produced === CHUNKS) return controller.close();
      counter.produced++;
      controller.enqueue(new Uint8Array(CHUNK).fill(counter.produced % 256));
    },
  });
  return new Request('http://localhost/sendImage', { method: 'POST', body, duplex: 'half', headers: contentType ? { 'content-type': contentType } : {} } as RequestInit);
}

function recordingService(counter: { produced: number }) {
  const seen = { bytes: 0, chunks: 0, maxAhead: 0, options: null as StoreOptions | null };
  const service = {
    async store(bytes: AsyncIterable<Uint8Array>, options: StoreOptions) {
      seen.options = options;
      for await (const chunk of bytes) {
        seen.bytes += chunk.length;
        seen.chunks++;
        seen.maxAhead = Math.max(seen.maxAhead, counter.produced * CHUNK - seen.bytes);
      }
      return { storageId: 'kg2000000000000000000000000000000', size: seen.bytes, sha256: '', contentType: options.contentType ?? null, fileName: null };
    },
  };
  return { service, seen };
}

const urls = { file: () => null, upload: () => null };

test('store(request) streams the body to storage with its Content-Type, never holding it whole', async () => {
  const counter = { produced: 0 };
  const { service, seen } = recordingService(counter);
  const storage = new StorageContextImpl(service as any, urls, async () => 'token', 'action');
  const id = await storage.store(producingRequest(counter, 'image/png'));
  assert.equal(id, 'kg2000000000000000000000000000000');
  assert.equal(seen.bytes, CHUNK * CHUNKS);
  assert.equal(seen.options?.contentType, 'image/png');
  // 64 MiB went through; at no point was more than a few chunks produced ahead of storage.
  assert.ok(seen.maxAhead <= 32 * CHUNK, `storage lagged ${seen.maxAhead} bytes behind the request body`);
});

test('store(request) without a Content-Type stores none; a used body is refused', async () => {
  const counter = { produced: 0 };
  const { service, seen } = recordingService(counter);
  const storage = new StorageContextImpl(service as any, urls, async () => 'token', 'action');
  await storage.store(producingRequest(counter, null));
  assert.equal(seen.options?.contentType, null);

  const used = new Request('http://localhost/x', { method: 'POST', body: 'read already' });
  await used.text();
  await assert.rejects(storage.store(used), { message: 'store(): the request body has already been read' });
});

test('store(blob) still takes a Blob and its type', async () => {
  const counter = { produced: 0 };
  const { service, seen } = recordingService(counter);
  const storage = new StorageContextImpl(service as any, urls, async () => 'token', 'action');
  await storage.store(new Blob(['hello'], { type: 'text/plain' }));
  assert.equal(seen.bytes, 5);
  assert.equal(seen.options?.contentType, 'text/plain');
  await assert.rejects(storage.store('text' as any), { message: 'store() expects a Blob or a Request' });
});
