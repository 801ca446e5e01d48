import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryCache } from '../../src/backends/local/query-cache.js';
import { ReadSet } from '../../src/database/read-set.js';
import { CommitFeed, WriteSet } from '../../src/database/write-set.js';

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

test('commits made while no query runs are not needed by the next one: it is kept', () => {
  const feed = new CommitFeed();
  const cache = new QueryCache(100, feed);
  for (let i = 0; i < 5000; i++) commit(feed, 'notes', 'a');
  const since = cache.begin();
  assert.equal(cache.put('read-a', 1, readOf('notes', 'a'), since), true);
  cache.end(since);
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
