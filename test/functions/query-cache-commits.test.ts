import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryCache } from '../../src/backends/local/query-cache.js';
import { ReadSet } from '../../src/database/read-set.js';
import { CommitFeed, WriteSet } from '../../src/database/write-set.js';
import { ANONYMOUS, type CallKind, type Caller } from '../../src/backends/function-backend.js';
import { openLocalBackend } from '../backends/local-harness.js';

// The commits a query ran across decide whether its answer may be kept, so
// they are kept while such a query runs, and only then (kept for a fixed
// count, a steady write load made the garbage collector promote and sweep
// every write set). Here queries and commits are interleaved by hand.

function readOf(table: string, id: string): ReadSet {
  const reads = new ReadSet();
  reads.addId(table, id);
  return reads;
}

function commit(feed: CommitFeed, table: string, id: string): void {
  const writes = new WriteSet();
  writes.deleted(table, id);
  feed.publish(writes);
}

test('a query that ran across a commit touching what it read is not kept; one touching something else does not stop it', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  const touched = cache.begin();
  const untouched = cache.begin();
  commit(feed, 'notes', 'a');
  assert.equal(cache.put('read-a', 1, readOf('notes', 'a'), touched), false);
  cache.end(touched);
  assert.equal(cache.put('read-b', 2, readOf('notes', 'b'), untouched), true);
  cache.end(untouched);
  assert.equal(cache.get('read-a'), undefined);
  assert.equal(cache.get('read-b'), 2);
});

test('commits made while no query runs are not held, nor needed by the next query: it is kept', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  for (let i = 0; i < 5000; i++) commit(feed, 'notes', 'a');
  assert.equal(cache.commitsHeld, 0);
  const since = cache.begin();
  assert.equal(cache.put('read-a', 1, readOf('notes', 'a'), since), true);
  cache.end(since);
});

test('commits are held while a query that began before them runs, and let go once it ends', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  const first = cache.begin();
  const second = cache.begin(); // the same position
  for (let i = 0; i < 10; i++) commit(feed, 'notes', `x${i}`);
  assert.equal(cache.commitsHeld, 10);
  cache.end(first);
  // The second query, begun at the same position, still needs all of them.
  commit(feed, 'notes', 'a');
  assert.equal(cache.commitsHeld, 11);
  assert.equal(cache.put('second-a', 1, readOf('notes', 'a'), second), false);
  assert.equal(cache.put('second-b', 1, readOf('notes', 'b'), second), true);
  cache.end(second);
  commit(feed, 'notes', 'b');
  assert.equal(cache.commitsHeld, 0);
  // A later query holds only what came after it began.
  for (let i = 0; i < 5; i++) commit(feed, 'notes', `y${i}`);
  const late = cache.begin();
  commit(feed, 'notes', 'z');
  assert.equal(cache.commitsHeld, 1);
  cache.end(late);
  // Ending a query twice (or one never begun) changes nothing.
  cache.end(late);
  cache.end(12345);
  commit(feed, 'notes', 'z');
  assert.equal(cache.commitsHeld, 0);
});

test('overlapping queries: each is judged by the commits since it began, while the oldest one keeps them', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  const first = cache.begin();
  commit(feed, 'notes', 'a'); // during first only
  const second = cache.begin();
  commit(feed, 'notes', 'b'); // during both
  cache.end(first);
  const third = cache.begin();
  commit(feed, 'notes', 'c'); // during second and third
  // The commit of `a` came before the second began: it does not concern it.
  assert.equal(cache.put('second-a', 1, readOf('notes', 'a'), second), true);
  assert.equal(cache.put('second-b', 1, readOf('notes', 'b'), second), false);
  assert.equal(cache.put('second-c', 1, readOf('notes', 'c'), second), false);
  cache.end(second);
  assert.equal(cache.put('third-b', 1, readOf('notes', 'b'), third), true);
  assert.equal(cache.put('third-c', 1, readOf('notes', 'c'), third), false);
  cache.end(third);
});

test('a query that ran across more commits than are kept is not kept, whatever they touched', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  const slow = cache.begin();
  for (let i = 0; i < 1100; i++) commit(feed, 'other', `x${i}`);
  assert.equal(cache.put('read-a', 1, readOf('notes', 'a'), slow), false);
  cache.end(slow);
  // A query beginning now missed none of them.
  const next = cache.begin();
  commit(feed, 'other', 'y');
  assert.equal(cache.put('read-a', 1, readOf('notes', 'a'), next), true);
  cache.end(next);
});

test('the local backend ends every query it began, also one that throws: nothing is held once they are over', async () => {
  const harness = await openLocalBackend('./.data/commits.sqlite', {
    'functions/notes.ts': `
import { mutation, query } from 'portico';
export const add = mutation(async (ctx) => ctx.db.insert('notes', { text: 'x' }));
export const count = query(async (ctx) => (await ctx.db.query('notes').collect()).length);
export const broken = query(async (ctx) => { await ctx.db.query('notes').first(); throw new Error('broken'); });
`,
  });
  try {
    const { backend } = harness;
    const caller: Caller = { identity: ANONYMOUS, internal: false, requestId: 'commits', collectLogs: false };
    const call = (kind: CallKind, name: string) => backend.call({ kind, name, args: {}, caller });
    const cache = (backend as unknown as { cache: QueryCache }).cache;
    await call('mutation', 'notes:add');
    // Twice each: a call is tracked (begun and ended) from its second time on.
    for (let i = 0; i < 2; i++) {
      assert.equal((await call('query', 'notes:broken')).status, 'error');
      assert.equal((await call('query', 'notes:count')).status, 'success');
    }
    // Queries running across a commit: held while they run...
    const running = [call('query', 'notes:broken'), call('query', 'notes:count')];
    await call('mutation', 'notes:add');
    await Promise.all(running);
    // ...and not after.
    await call('mutation', 'notes:add');
    assert.equal(cache.commitsHeld, 0, 'commits are still held after every query ended');
    const counted = await call('query', 'notes:count');
    assert.deepEqual([counted.status, counted.status === 'success' && counted.value], ['success', 3]);
  } finally {
    await harness.close();
  }
});
