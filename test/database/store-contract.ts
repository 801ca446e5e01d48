import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ANONYMOUS, type CallResult, type Caller } from '../../src/backends/function-backend.js';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import type { DatabaseReader, DatabaseWriter, GenericDocument } from '../../src/database/api-types.js';
import { CompiledSchema } from '../../src/database/compiled-schema.js';
import { DocumentApi, isIdOfTable } from '../../src/database/document-api.js';
import { defineSchema, defineTable, type SchemaDefinition } from '../../src/database/schema-definition.js';
import type { ReadTx, ScanRequest, Store, WriteTx } from '../../src/database/store.js';
import type { LoadedModules } from '../../src/functions/loader.js';
import { mutation, query, type RegisteredFunction } from '../../src/functions/registration.js';
import type { StorageContext } from '../../src/storage/storage-context.js';
import type { StorageService } from '../../src/storage/storage-service.js';
import { jsonToConvex, type Value } from '../../src/values/value.js';
import { v } from '../../src/values/validators.js';

// The contract every Store passes, written once and run against each
// database (sqlite-store.test.ts, postgres-store.test.ts). It drives the
// store through what functions see, ctx.db (DocumentApi over a store
// transaction), and through the local backend where the behaviour belongs
// there (queries cannot write, nested mutations).

export interface StoreHarness {
  store: Store;
  /** The database's plan for the SQL the store runs for `request`, as text. */
  explain(request: ScanRequest): Promise<string>;
  /** Whether `plan` reads the SQL index of `table`'s index `index` (Portico's names), without a table scan or sort. */
  usesIndex(plan: string, table: string, index: string): boolean;
  /** A second store on the same database, as another process would open it (closed by the test). */
  openAnother(): Promise<Store>;
  close(): Promise<void>;
}

/** A fresh, empty store for one test; null when the test was skipped (no server). */
export type StoreFactory = (t: TestContext) => Promise<StoreHarness | null>;

const TIMEOUT = { timeoutMs: 30_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** ctx.db over one store, with the schema the test declares. */
class Db {
  schema = CompiledSchema.empty();
  /** Every scan the store was asked for by queries, in order. */
  readonly scans: ScanRequest[] = [];

  constructor(readonly harness: StoreHarness) {}

  get store(): Store {
    return this.harness.store;
  }

  async useSchema(definition: SchemaDefinition): Promise<void> {
    this.schema = CompiledSchema.compile(definition, { isIdOfTable });
    await this.store.applySchema(this.schema.tableSpecs);
  }

  query<T>(fn: (db: DatabaseReader) => Promise<T>): Promise<T> {
    return this.store.read((tx) => fn(new DocumentApi(this.store, this.recording(tx), this.schema, false)));
  }

  mutation<T>(fn: (db: DatabaseWriter) => Promise<T>, options = TIMEOUT): Promise<T> {
    return this.store.write((tx) => fn(new DocumentApi(this.store, tx, this.schema, true)), options);
  }

  /** The local backend over this store, running `functions` ("module:fn" → definition). */
  backend(functions: Record<string, RegisteredFunction>): LocalBackend {
    const modules: LoadedModules = {
      functionsDir: '',
      modules: new Map(),
      functions: new Map(Object.entries(functions)),
      httpActions: new Map(),
      schema: undefined,
      usesConsole: false,
      problems: new Map(),
    };
    // These tests never touch ctx.storage.
    const noStorage = {} as StorageService;
    return new LocalBackend(this.store, modules, this.schema, noStorage, {
      production: false,
      transactionTimeoutMs: 30_000,
      storageFor: () => ({}) as StorageContext,
    });
  }

  private recording(tx: ReadTx): ReadTx {
    return {
      tableName: (number) => tx.tableName(number),
      get: (table, id) => tx.get(table, id),
      scan: (request) => {
        this.scans.push(request);
        return tx.scan(request);
      },
    };
  }
}

const CALLER: Caller = { identity: ANONYMOUS, internal: false, requestId: 'store-contract', collectLogs: false };

async function call(backend: LocalBackend, kind: 'query' | 'mutation', name: string, args: Record<string, unknown> = {}): Promise<Value> {
  const result: CallResult = await backend.call({ kind, name, args: args as never, caller: CALLER });
  if (result.status === 'error') throw new Error(result.errorMessage);
  return jsonToConvex(result.value);
}

const fieldsOf = (doc: GenericDocument | null) => {
  assert.ok(doc, 'document exists');
  const { _id, _creationTime, ...rest } = doc;
  return rest;
};

export function storeContract(name: string, open: StoreFactory): void {
  /** Runs `body` on a fresh store, closed afterwards; skipped when the factory skips. */
  const withDb = (body: (db: Db, t: TestContext) => Promise<void>) => async (t: TestContext) => {
    const harness = await open(t);
    if (!harness) return;
    try {
      await body(new Db(harness), t);
    } finally {
      await harness.close();
    }
  };

  describe(`Store contract: ${name}`, () => {
    describe('documents', () => {
      test(
        'insert gives _id and _creationTime; get returns the document with its types',
        withDb(async (db) => {
          const before = Date.now();
          const id = await db.mutation((w) => w.insert('notes', { title: 'hello', n: 1, big: 2n ** 40n, tags: ['a', 'b'], nested: { deep: { x: null } } }));
          const after = Date.now();
          assert.equal(typeof id, 'string');
          const doc = await db.query((r) => r.get(id));
          assert.ok(doc);
          assert.equal(doc._id, id);
          assert.equal(typeof doc._creationTime, 'number');
          assert.ok(doc._creationTime >= before - 1 && doc._creationTime <= after + 1, `creation time ${doc._creationTime} within [${before}, ${after}]`);
          assert.deepEqual(fieldsOf(doc), { title: 'hello', n: 1, big: 2n ** 40n, tags: ['a', 'b'], nested: { deep: { x: null } } });
          assert.deepEqual(await db.query((r) => r.get('notes', id)), doc, 'get(table, id) is the same document');
        }),
      );

      test(
        '_creationTime increases with each insert, even within one mutation',
        withDb(async (db) => {
          const ids = await db.mutation(async (w) => [await w.insert('seq', { i: 0 }), await w.insert('seq', { i: 1 }), await w.insert('seq', { i: 2 })]);
          const times = await db.query(async (r) => Promise.all(ids.map(async (id) => (await r.get(id))!._creationTime)));
          assert.ok(times[0]! < times[1]! && times[1]! < times[2]!, `strictly increasing: ${times.join(', ')}`);
          assert.equal(new Set(ids).size, 3, 'ids are unique');
        }),
      );

      test(
        'patch merges fields, and a field patched to undefined is removed',
        withDb(async (db) => {
          const id = await db.mutation((w) => w.insert('notes', { title: 't', body: 'b', n: 1 }));
          const created = (await db.query((r) => r.get(id)))!._creationTime;
          await db.mutation((w) => w.patch(id, { n: 2, body: undefined, extra: true }));
          const doc = await db.query((r) => r.get(id));
          assert.deepEqual(fieldsOf(doc), { title: 't', n: 2, extra: true });
          assert.equal(doc!._creationTime, created, 'patch keeps _creationTime');
          assert.ok(!('body' in doc!), 'the removed field is absent, not undefined');
          // The three-argument form names the table.
          await db.mutation((w) => w.patch('notes', id, { n: 3 }));
          assert.equal((await db.query((r) => r.get(id)))!.n, 3);
        }),
      );

      test(
        'replace overwrites every user field and keeps _id and _creationTime',
        withDb(async (db) => {
          const id = await db.mutation((w) => w.insert('notes', { title: 't', body: 'b' }));
          const before = await db.query((r) => r.get(id));
          await db.mutation((w) => w.replace(id, { other: 1n }));
          const after = await db.query((r) => r.get(id));
          assert.deepEqual(fieldsOf(after), { other: 1n });
          assert.equal(after!._id, id);
          assert.equal(after!._creationTime, before!._creationTime);
          // A document read earlier can be passed back whole.
          await db.mutation(async (w) => {
            const doc = (await w.get(id))!;
            await w.replace('notes', id, { ...doc, other: 2n });
          });
          assert.deepEqual(fieldsOf(await db.query((r) => r.get(id))), { other: 2n });
        }),
      );

      test(
        'delete removes the document; patching or deleting a missing document throws',
        withDb(async (db) => {
          const [a, b] = await db.mutation(async (w) => [await w.insert('notes', { n: 1 }), await w.insert('notes', { n: 2 })]);
          await db.mutation((w) => w.delete(a));
          await db.mutation((w) => w.delete('notes', b));
          assert.equal(await db.query((r) => r.get(a)), null);
          assert.equal(await db.query((r) => r.get(b)), null);
          assert.deepEqual(await db.query((r) => r.query('notes').collect()), []);
          await assert.rejects(db.mutation((w) => w.patch(a, { n: 3 })), /nonexistent document/i);
          await assert.rejects(db.mutation((w) => w.replace(a, { n: 3 })), /nonexistent document/i);
          await assert.rejects(db.mutation((w) => w.delete(a)), /nonexistent document/i);
        }),
      );

      test(
        'an id of one table is refused by another; normalizeId says which table an id belongs to',
        withDb(async (db) => {
          const noteId = await db.mutation((w) => w.insert('notes', { n: 1 }));
          const userId = await db.mutation((w) => w.insert('users', { name: 'ada' }));
          await assert.rejects(db.query((r) => r.get('users', noteId)), /belongs to table "notes", not "users"/);
          await assert.rejects(db.mutation((w) => w.patch('users', noteId, { n: 2 })), /belongs to table "notes"/);
          await assert.rejects(db.mutation((w) => w.delete('users', noteId)), /belongs to table "notes"/);
          const normalized = await db.query(async (r) => ({
            own: r.normalizeId('notes', noteId),
            other: r.normalizeId('users', noteId),
            user: r.normalizeId('users', userId),
            garbage: r.normalizeId('notes', 'not-an-id'),
            truncated: r.normalizeId('notes', noteId.slice(0, -1)),
          }));
          assert.deepEqual(normalized, { own: noteId, other: null, user: userId, garbage: null, truncated: null });
          assert.equal((await db.query((r) => r.get(noteId)))!.n, 1, 'get(id) needs no table name');
          await assert.rejects(db.query((r) => r.get('garbage')), /not a document id/);
        }),
      );

      test(
        'a second store on the same database sees the documents, and checks ids against the tables it finds there',
        withDb(async (db) => {
          const noteId = await db.mutation((w) => w.insert('notes', { n: 1 }));
          const userId = await db.mutation((w) => w.insert('users', { name: 'ada' }));
          const other = new Db({ ...db.harness, store: await db.harness.openAnother() });
          try {
            // Before it has read anything.
            const normalized = await other.query(async (r) => [r.normalizeId('users', noteId), r.normalizeId('users', userId), r.normalizeId('notes', noteId)]);
            assert.deepEqual(normalized, [null, userId, noteId]);
            const backend = other.backend({ 'ids:user': query({ args: { id: v.id('users') }, handler: async (ctx, { id }) => (await ctx.db.get(id))?.name ?? null }) });
            await assert.rejects(call(backend, 'query', 'ids:user', { id: noteId }), /ArgumentValidationError/);
            assert.equal(await call(backend, 'query', 'ids:user', { id: userId }), 'ada');
            assert.deepEqual(fieldsOf(await other.query((r) => r.get(noteId))), { n: 1 });
            // A table the first store creates afterwards is found by the second.
            const lateId = await db.mutation((w) => w.insert('late', { n: 2 }));
            assert.deepEqual(fieldsOf(await other.query((r) => r.get(lateId))), { n: 2 });
            await other.mutation((w) => w.patch(lateId, { n: 3 }));
            assert.deepEqual(fieldsOf(await db.query((r) => r.get(lateId))), { n: 3 });
            const otherId = await other.mutation((w) => w.insert('late', { n: 4 }));
            assert.deepEqual((await db.query((r) => r.query('late').collect())).map((d) => d._id), [lateId, otherId]);
          } finally {
            await other.store.close();
          }
        }),
      );

      test(
        'system fields and _-prefixed names cannot be written',
        withDb(async (db) => {
          await assert.rejects(db.mutation((w) => w.insert('notes', { _secret: 1 })), /reserved/);
          await assert.rejects(db.mutation((w) => w.insert('_storage', { n: 1 })), /read-only/);
          const id = await db.mutation((w) => w.insert('notes', { n: 1 }));
          await assert.rejects(db.mutation((w) => w.patch(id, { _other: 1 })), /reserved/);
        }),
      );
    });

    describe('queries', () => {
      const schema = defineSchema({
        posts: defineTable({ author: v.string(), n: v.number(), tag: v.optional(v.string()) })
          .index('by_author', ['author'])
          .index('by_author_n', ['author', 'n'])
          .index('by_n', ['n']),
      });

      async function seedPosts(db: Db): Promise<void> {
        await db.useSchema(schema);
        await db.mutation(async (w) => {
          // Not in index order, so an index scan has something to sort.
          for (const [author, n] of [['bo', 3], ['ada', 2], ['cy', 1], ['ada', 1], ['bo', 1], ['ada', 3], ['bo', 2], ['ada', 4]] as const) {
            await w.insert('posts', { author, n, tag: n % 2 === 0 ? 'even' : 'odd' });
          }
        });
      }
      const pairs = (docs: GenericDocument[]) => docs.map((doc) => `${doc.author}${doc.n}`);

      test(
        'a query without an index returns documents in creation order, desc reverses it',
        withDb(async (db) => {
          await seedPosts(db);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').collect())), ['bo3', 'ada2', 'cy1', 'ada1', 'bo1', 'ada3', 'bo2', 'ada4']);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').order('desc').collect())), ['ada4', 'bo2', 'ada3', 'bo1', 'ada1', 'cy1', 'ada2', 'bo3']);
          assert.deepEqual(await db.query((r) => r.query('nothing_here').collect()), [], 'a table never written is empty');
        }),
      );

      test(
        'withIndex: eq on one and on several fields, ties in creation order',
        withDb(async (db) => {
          await seedPosts(db);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_author', (q) => q.eq('author', 'ada')).collect())), ['ada2', 'ada1', 'ada3', 'ada4']);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_author_n', (q) => q.eq('author', 'ada').eq('n', 3)).collect())), ['ada3']);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_author_n', (q) => q.eq('author', 'bo')).collect())), ['bo1', 'bo2', 'bo3']);
          assert.deepEqual(await db.query((r) => r.query('posts').withIndex('by_author', (q) => q.eq('author', 'nobody')).collect()), []);
          // The whole index, in index order.
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_author_n').collect())), ['ada1', 'ada2', 'ada3', 'ada4', 'bo1', 'bo2', 'bo3', 'cy1']);
        }),
      );

      test(
        'withIndex: gt, gte, lt, lte ranges after an eq prefix, in both orders',
        withDb(async (db) => {
          await seedPosts(db);
          const ada = (build: (q: any) => any, order: 'asc' | 'desc' = 'asc') =>
            db.query(async (r) => pairs(await r.query('posts').withIndex('by_author_n', (q) => build(q.eq('author', 'ada'))).order(order).collect()));
          assert.deepEqual(await ada((q) => q.gt('n', 2)), ['ada3', 'ada4']);
          assert.deepEqual(await ada((q) => q.gte('n', 2)), ['ada2', 'ada3', 'ada4']);
          assert.deepEqual(await ada((q) => q.lt('n', 2)), ['ada1']);
          assert.deepEqual(await ada((q) => q.lte('n', 2)), ['ada1', 'ada2']);
          assert.deepEqual(await ada((q) => q.gt('n', 1).lt('n', 4)), ['ada2', 'ada3']);
          assert.deepEqual(await ada((q) => q.gte('n', 1).lte('n', 4), 'desc'), ['ada4', 'ada3', 'ada2', 'ada1']);
          assert.deepEqual(await ada((q) => q.gt('n', 4)), []);
          // A range on the first field spans authors.
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_author_n', (q) => q.gt('author', 'ada').lt('author', 'cy')).collect())), ['bo1', 'bo2', 'bo3']);
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_n', (q) => q.gte('n', 3)).order('desc').collect())), ['ada4', 'ada3', 'bo3']);
        }),
      );

      test(
        'withIndex refuses an unknown index and fields out of index order',
        withDb(async (db) => {
          await seedPosts(db);
          await assert.rejects(db.query((r) => r.query('posts').withIndex('by_nothing').collect()), /Index "posts.by_nothing" not found/);
          await assert.rejects(db.query((r) => r.query('posts').withIndex('by_author_n', (q) => q.eq('n', 1)).collect()), /expected "author"/);
          await assert.rejects(db.query(async (r) => r.query('posts').order('asc').order('desc').collect()), /order at most once/);
        }),
      );

      test(
        'filter: every comparison, logical and arithmetic operator',
        withDb(async (db) => {
          await seedPosts(db);
          const where = (predicate: (q: any) => any) => db.query(async (r) => pairs(await r.query('posts').withIndex('by_author_n').filter(predicate).collect()));
          assert.deepEqual(await where((q) => q.eq(q.field('author'), 'bo')), ['bo1', 'bo2', 'bo3']);
          assert.deepEqual(await where((q) => q.neq(q.field('author'), 'ada')), ['bo1', 'bo2', 'bo3', 'cy1']);
          assert.deepEqual(await where((q) => q.lt(q.field('n'), 2)), ['ada1', 'bo1', 'cy1']);
          assert.deepEqual(await where((q) => q.lte(q.field('n'), 1)), ['ada1', 'bo1', 'cy1']);
          assert.deepEqual(await where((q) => q.gt(q.field('n'), 3)), ['ada4']);
          assert.deepEqual(await where((q) => q.gte(q.field('n'), 3)), ['ada3', 'ada4', 'bo3']);
          assert.deepEqual(await where((q) => q.and(q.eq(q.field('author'), 'ada'), q.gt(q.field('n'), 2))), ['ada3', 'ada4']);
          assert.deepEqual(await where((q) => q.or(q.eq(q.field('author'), 'cy'), q.eq(q.field('n'), 4))), ['ada4', 'cy1']);
          assert.deepEqual(await where((q) => q.not(q.eq(q.field('tag'), 'odd'))), ['ada2', 'ada4', 'bo2']);
          assert.deepEqual(await where((q) => q.eq(q.add(q.field('n'), 1), 5)), ['ada4']);
          assert.deepEqual(await where((q) => q.eq(q.sub(q.field('n'), 1), 0)), ['ada1', 'bo1', 'cy1']);
          assert.deepEqual(await where((q) => q.eq(q.mul(q.field('n'), 2), 6)), ['ada3', 'bo3']);
          assert.deepEqual(await where((q) => q.eq(q.div(q.field('n'), 2), 1.5)), ['ada3', 'bo3']);
          assert.deepEqual(await where((q) => q.eq(q.mod(q.field('n'), 2), 0)), ['ada2', 'ada4', 'bo2']);
          assert.deepEqual(await where((q) => q.lt(q.neg(q.field('n')), -3)), ['ada4']);
          // A missing field is undefined, which sorts before every value.
          assert.deepEqual(await where((q) => q.eq(q.field('missing'), undefined)), ['ada1', 'ada2', 'ada3', 'ada4', 'bo1', 'bo2', 'bo3', 'cy1']);
          assert.deepEqual(await where((q) => q.lt(q.field('missing'), null)), ['ada1', 'ada2', 'ada3', 'ada4', 'bo1', 'bo2', 'bo3', 'cy1']);
          // Filters combine with an index range and an order.
          assert.deepEqual(
            pairs(await db.query((r) => r.query('posts').withIndex('by_author', (q) => q.eq('author', 'ada')).order('desc').filter((q) => q.neq(q.field('n'), 3)).collect())),
            ['ada4', 'ada1', 'ada2'],
          );
        }),
      );

      test(
        'filter on a nested field path',
        withDb(async (db) => {
          await db.mutation(async (w) => {
            await w.insert('people', { name: 'ada', address: { city: 'London' } });
            await w.insert('people', { name: 'bo', address: { city: 'Paris' } });
            await w.insert('people', { name: 'cy' });
          });
          const names = await db.query(async (r) => (await r.query('people').filter((q) => q.eq(q.field('address.city'), 'Paris')).collect()).map((d) => d.name));
          assert.deepEqual(names, ['bo']);
        }),
      );

      test(
        'collect, take, first, unique (which throws on two results)',
        withDb(async (db) => {
          await seedPosts(db);
          const byAuthor = (r: DatabaseReader, author: string) => r.query('posts').withIndex('by_author', (q) => q.eq('author', author));
          assert.equal((await db.query((r) => byAuthor(r, 'ada').collect())).length, 4);
          assert.deepEqual(pairs(await db.query((r) => byAuthor(r, 'ada').take(2))), ['ada2', 'ada1']);
          assert.deepEqual(await db.query((r) => byAuthor(r, 'ada').take(0)), []);
          assert.equal((await db.query((r) => byAuthor(r, 'ada').take(100))).length, 4);
          assert.equal((await db.query((r) => byAuthor(r, 'bo').order('desc').first()))!.n, 2);
          assert.equal(await db.query((r) => byAuthor(r, 'nobody').first()), null);
          assert.equal((await db.query((r) => byAuthor(r, 'cy').unique()))!.n, 1);
          assert.equal(await db.query((r) => byAuthor(r, 'nobody').unique()), null);
          await assert.rejects(db.query((r) => byAuthor(r, 'ada').unique()), /unique\(\) query returned more than one result from table posts/);
          // take() stops early with a filter that skips rows.
          assert.deepEqual(pairs(await db.query((r) => r.query('posts').withIndex('by_n').filter((q) => q.eq(q.field('author'), 'bo')).take(2))), ['bo1', 'bo2']);
          // A query is also an async iterable.
          const seen: string[] = [];
          await db.query(async (r) => {
            for await (const doc of byAuthor(r, 'bo')) seen.push(`${doc.author}${doc.n}`);
          });
          assert.deepEqual(seen, ['bo3', 'bo1', 'bo2']);
        }),
      );

      test(
        'more rows than one read batch come back complete and in order',
        withDb(async (db) => {
          await db.useSchema(defineSchema({ many: defineTable({ i: v.number() }).index('by_i', ['i']) }));
          await db.mutation(async (w) => {
            for (let i = 0; i < 300; i++) await w.insert('many', { i: (i * 7919) % 300 });
          });
          const all = await db.query(async (r) => (await r.query('many').withIndex('by_i').collect()).map((d) => d.i));
          assert.deepEqual(all, Array.from({ length: 300 }, (_, i) => i));
          const filtered = await db.query(async (r) => (await r.query('many').withIndex('by_i').order('desc').filter((q) => q.eq(q.mod(q.field('i'), 50), 0)).take(3)).map((d) => d.i));
          assert.deepEqual(filtered, [250, 200, 150]);
        }),
      );
    });

    describe('pagination', () => {
      async function seed(db: Db, values: number[]): Promise<Map<number, string>> {
        await db.useSchema(defineSchema({ items: defineTable({ n: v.number() }).index('by_n', ['n']) }));
        const ids = new Map<number, string>();
        await db.mutation(async (w) => {
          for (const n of values) ids.set(n, await w.insert('items', { n }));
        });
        return ids;
      }

      const page = (db: Db, cursor: string | null, numItems: number, order: 'asc' | 'desc' = 'asc') =>
        db.query(async (r) => {
          const result = await r.query('items').withIndex('by_n').order(order).paginate({ numItems, cursor });
          return { ...result, page: result.page.map((doc) => doc.n as number) };
        });

      test(
        'pages cover the query exactly once and end with isDone',
        withDb(async (db) => {
          await seed(db, [5, 1, 9, 3, 7, 2, 8, 4, 6, 0]);
          const seen: number[] = [];
          let cursor: string | null = null;
          let pages = 0;
          for (;;) {
            const result = await page(db, cursor, 3);
            seen.push(...result.page);
            assert.equal(typeof result.continueCursor, 'string');
            cursor = result.continueCursor;
            if (result.isDone) break;
            assert.ok(++pages < 10, 'pagination terminates');
          }
          assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
          const again = await page(db, cursor, 3);
          assert.deepEqual(again.page, []);
          assert.equal(again.isDone, true);
        }),
      );

      test(
        'cursors are stable: documents inserted and deleted between pages are neither skipped nor repeated',
        withDb(async (db) => {
          const ids = await seed(db, [0, 10, 20, 30, 40, 50, 60, 70]);
          const first = await page(db, null, 3);
          assert.deepEqual(first.page, [0, 10, 20]);
          // Before the cursor (must not appear), right after it, the next
          // document deleted, and one past the end.
          await db.mutation(async (w) => {
            await w.insert('items', { n: 15 });
            await w.insert('items', { n: 20.5 });
            await w.delete(ids.get(30)!);
            await w.insert('items', { n: 80 });
          });
          const second = await page(db, first.continueCursor, 3);
          assert.deepEqual(second.page, [20.5, 40, 50]);
          // The document the cursor points at is deleted, then its place is re-used.
          await db.mutation(async (w) => {
            await w.delete(ids.get(50)!);
            await w.insert('items', { n: 50 });
            await w.delete(ids.get(60)!);
          });
          const third = await page(db, second.continueCursor, 3);
          assert.deepEqual(third.page, [50, 70, 80], 'the re-inserted 50 is a new document after the cursor');
          const rest = await page(db, third.continueCursor, 3);
          assert.deepEqual(rest.page, []);
          assert.equal(rest.isDone, true);
        }),
      );

      test(
        'descending pages, and a cursor from one page continues the same query',
        withDb(async (db) => {
          await seed(db, [1, 2, 3, 4, 5]);
          const first = await page(db, null, 2, 'desc');
          assert.deepEqual(first.page, [5, 4]);
          await db.mutation((w) => w.insert('items', { n: 4.5 }).then(() => w.insert('items', { n: 3.5 })));
          const second = await page(db, first.continueCursor, 2, 'desc');
          assert.deepEqual(second.page, [3.5, 3]);
          const third = await page(db, second.continueCursor, 5, 'desc');
          assert.deepEqual(third.page, [2, 1]);
          assert.equal(third.isDone, true);
          await assert.rejects(page(db, 'not a cursor!', 2), /Invalid pagination cursor/);
        }),
      );
    });

    describe('values', () => {
      // Convex's order: missing < null < int64 < float64 < boolean < string < bytes < array < object.
      const bytes = (...b: number[]) => new Uint8Array(b).buffer as ArrayBuffer;
      const ORDERED: (Value | undefined)[] = [
        undefined,
        null,
        -(2n ** 63n),
        -5n,
        0n,
        7n,
        2n ** 63n - 1n,
        -Infinity,
        -1.5,
        -0,
        0,
        Number.MIN_VALUE,
        1,
        2.5,
        2 ** 60,
        Infinity,
        NaN,
        false,
        true,
        '',
        '\0',
        'A',
        'a',
        'a\0',
        'ab',
        'é',
        '\uff61',
        '😀',
        bytes(),
        bytes(0),
        bytes(0, 1),
        bytes(1),
        bytes(255),
        [],
        [null],
        [1n],
        [1, 2],
        [2],
        ['a', []],
        {},
        { a: 1 },
        { a: 2 },
        { a: 2, b: 0 },
        { b: 0 },
      ];
      const same = (a: Value | undefined, b: Value | undefined): boolean => {
        if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
        if (a instanceof ArrayBuffer && b instanceof ArrayBuffer) return Buffer.from(a).equals(Buffer.from(b));
        if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
        if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b) && !(a instanceof ArrayBuffer) && !(b instanceof ArrayBuffer)) {
          const ka = Object.keys(a);
          return ka.length === Object.keys(b).length && ka.every((k) => same(a[k], (b as Record<string, Value>)[k]));
        }
        return a === b;
      };
      const show = (value: Value | undefined): string =>
        value === undefined
          ? 'undefined'
          : typeof value === 'bigint'
            ? `${value}n`
            : typeof value === 'number'
              ? Object.is(value, -0) ? '-0' : String(value)
              : value instanceof ArrayBuffer
                ? `bytes[${[...new Uint8Array(value)]}]`
                : JSON.stringify(value, (_key, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof ArrayBuffer ? `bytes[${[...new Uint8Array(x)]}]` : x));

      test(
        'numbers, bigints, strings, bytes and nested values keep their types and sort in Convex order through an index',
        withDb(async (db) => {
          await db.useSchema(defineSchema({ vals: defineTable(v.any()).index('by_v', ['v']) }));
          // Inserted in a scrambled order.
          const order = ORDERED.map((_, i) => (i * 17) % ORDERED.length);
          assert.equal(new Set(order).size, ORDERED.length);
          await db.mutation(async (w) => {
            for (const i of order) await w.insert('vals', ORDERED[i] === undefined ? { i } : { i, v: ORDERED[i] as Value });
          });
          const asc = await db.query((r) => r.query('vals').withIndex('by_v').collect());
          assert.deepEqual(asc.map((doc) => doc.i), ORDERED.map((_, i) => i), `index order:\n${asc.map((d) => show(d.v)).join(' ')}`);
          for (const doc of asc) {
            const expected = ORDERED[doc.i as number];
            assert.ok(same(doc.v, expected), `value #${doc.i} round-trips: got ${show(doc.v)}, expected ${show(expected)}`);
            if (expected === undefined) assert.ok(!('v' in doc));
          }
          const desc = await db.query((r) => r.query('vals').withIndex('by_v').order('desc').collect());
          assert.deepEqual(desc.map((doc) => doc.i), ORDERED.map((_, i) => i).reverse());
          // Ranges and equality work on every type.
          const range = await db.query((r) => r.query('vals').withIndex('by_v', (q) => q.gte('v', 0n).lt('v', -Infinity)).collect());
          assert.deepEqual(range.map((d) => show(d.v)), ['0n', '7n', `${2n ** 63n - 1n}n`]);
          const strings = await db.query((r) => r.query('vals').withIndex('by_v', (q) => q.gt('v', true).lt('v', bytes())).collect());
          assert.deepEqual(strings.map((d) => d.v), ['', '\0', 'A', 'a', 'a\0', 'ab', 'é', '\uff61', '😀']);
          for (const value of [-0, 0, NaN, 2n ** 63n - 1n, bytes(0, 1), [1, 2], { a: 2, b: 0 }, null] as Value[]) {
            const found = await db.query((r) => r.query('vals').withIndex('by_v', (q) => q.eq('v', value)).collect());
            assert.equal(found.length, 1, `eq(${show(value)}) finds exactly one document`);
            assert.ok(same(found[0]!.v, value));
          }
        }),
      );

      test(
        'a bigint and a float of the same magnitude are different values',
        withDb(async (db) => {
          await db.mutation(async (w) => {
            await w.insert('mix', { v: 1n });
            await w.insert('mix', { v: 1 });
          });
          const ints = await db.query((r) => r.query('mix').filter((q) => q.eq(q.field('v'), 1n)).collect());
          assert.equal(ints.length, 1);
          assert.equal(typeof ints[0]!.v, 'bigint');
        }),
      );
    });

    describe('schema', () => {
      test(
        'schema.ts validators are enforced on insert, patch and replace',
        withDb(async (db) => {
          await db.useSchema(
            defineSchema({
              users: defineTable({ name: v.string(), age: v.optional(v.number()), role: v.union(v.literal('admin'), v.literal('user')) }),
            }),
          );
          const id = await db.mutation((w) => w.insert('users', { name: 'ada', role: 'admin' }));
          await assert.rejects(db.mutation((w) => w.insert('users', { name: 12, role: 'user' })), /does not match the schema[\s\S]*name/);
          await assert.rejects(db.mutation((w) => w.insert('users', { name: 'bo', role: 'guest' })), /does not match the schema/);
          await assert.rejects(db.mutation((w) => w.insert('users', { name: 'bo', role: 'user', extra: 1 })), /does not match the schema/);
          await assert.rejects(db.mutation((w) => w.patch(id, { age: 'old' })), /does not match the schema[\s\S]*age/);
          await assert.rejects(db.mutation((w) => w.patch(id, { name: undefined })), /does not match the schema/);
          await assert.rejects(db.mutation((w) => w.replace(id, { name: 'ada' })), /does not match the schema/);
          await db.mutation((w) => w.patch(id, { age: 36 }));
          assert.deepEqual(fieldsOf(await db.query((r) => r.get(id))), { name: 'ada', role: 'admin', age: 36 });
          assert.equal((await db.query((r) => r.query('users').collect())).length, 1, 'refused writes left nothing');
          // Tables the schema does not declare stay free-form.
          await db.mutation((w) => w.insert('scratch', { anything: [1, 'two'] }));
        }),
      );

      test(
        'an index added to a table that already has documents is backfilled, and kept up to date',
        withDb(async (db) => {
          await db.mutation(async (w) => {
            for (const tag of ['b', 'a', 'c', 'a']) await w.insert('things', { tag });
            await w.insert('things', { other: true });
          });
          await db.useSchema(defineSchema({ things: defineTable(v.any()).index('by_tag', ['tag']) }));
          const tags = async () => db.query(async (r) => (await r.query('things').withIndex('by_tag').collect()).map((d) => d.tag ?? null));
          assert.deepEqual(await tags(), [null, 'a', 'a', 'b', 'c']);
          const a = await db.query((r) => r.query('things').withIndex('by_tag', (q) => q.eq('tag', 'a')).collect());
          assert.equal(a.length, 2);
          await db.mutation(async (w) => {
            await w.insert('things', { tag: 'a0' });
            await w.patch(a[0]!._id, { tag: 'z' });
            await w.delete(a[1]!._id);
          });
          assert.deepEqual(await tags(), [null, 'a0', 'b', 'c', 'z']);
          // Changing the fields of an index rebuilds it; dropping it removes it.
          await db.useSchema(defineSchema({ things: defineTable(v.any()).index('by_tag', ['other', 'tag']) }));
          assert.deepEqual(await tags(), ['a0', 'b', 'c', 'z', null]);
          await db.useSchema(defineSchema({ things: defineTable(v.any()) }));
          assert.equal(db.store.indexesOf('things')?.length ?? 0, 0);
          await db.mutation((w) => w.insert('things', { tag: 'after' }));
          assert.equal((await db.query((r) => r.query('things').collect())).length, 6);
        }),
      );

      test(
        'an index another process adds is kept up to date by this process, which has not reloaded',
        withDb(async (db) => {
          await db.useSchema(defineSchema({ things: defineTable({ tag: v.string() }) }));
          await db.mutation((w) => w.insert('things', { tag: 'before' }));
          // Another process (a worker, a second instance) deploys a schema with a new index.
          const other = new Db({ ...db.harness, store: await db.harness.openAnother() });
          try {
            await other.useSchema(defineSchema({ things: defineTable({ tag: v.string() }).index('by_tag', ['tag']) }));
            // PostgreSQL tells the other instances asynchronously (NOTIFY);
            // SQLite is checked at the next write.
            await sleep(300);
            await db.mutation((w) => w.insert('things', { tag: 'after' }));
            const found = await other.query((r) => r.query('things').withIndex('by_tag', (q) => q.eq('tag', 'after')).collect());
            assert.deepEqual(found.map((d) => d.tag), ['after'], 'the write of the process that did not reload is in the new index');
          } finally {
            await other.store.close();
          }
        }),
      );

      test(
        'long table and index names that differ only past byte 63 stay distinct (PostgreSQL cut both to one name)',
        withDb(async (db) => {
          const stem = 'x'.repeat(62);
          const [first, second] = [`${stem}a1`, `${stem}a2`];
          const [byN, byM] = [`by_${'f'.repeat(59)}n1`, `by_${'f'.repeat(59)}n2`];
          assert.equal(first.length, 64);
          assert.equal(byN.length, 64);
          await db.useSchema(
            defineSchema({
              [first]: defineTable({ n: v.number(), m: v.number() }).index(byN, ['n']).index(byM, ['m']),
              [second]: defineTable({ n: v.number() }),
            }),
          );
          await db.mutation(async (w) => {
            for (const [n, m] of [[1, 30], [2, 10], [3, 20]]) await w.insert(first, { n: n!, m: m! });
            await w.insert(second, { n: 99 });
          });
          // A table created by a first insert rather than by the schema, too.
          await db.mutation((w) => w.insert(`${stem}b1`, { n: 7 }));
          await db.mutation((w) => w.insert(`${stem}b2`, { n: 8 }));
          const read = await db.query(async (r) => ({
            first: (await r.query(first).collect()).map((d) => d.n),
            second: (await r.query(second).collect()).map((d) => d.n),
            byN: (await r.query(first).withIndex(byN).collect()).map((d) => d.n),
            byM: (await r.query(first).withIndex(byM).collect()).map((d) => d.m),
            b1: (await r.query(`${stem}b1`).collect()).map((d) => d.n),
            b2: (await r.query(`${stem}b2`).collect()).map((d) => d.n),
          }));
          assert.deepEqual(read, { first: [1, 2, 3], second: [99], byN: [1, 2, 3], byM: [10, 20, 30], b1: [7], b2: [8] });
        }),
      );

      test(
        'a query through an index is answered from a real database index, not a table scan',
        withDb(async (db) => {
          await db.useSchema(defineSchema({ messages: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']) }));
          await db.mutation(async (w) => {
            for (let i = 0; i < 3000; i++) await w.insert('messages', { author: `author${i % 300}`, body: `message ${i} `.repeat(4) });
          });
          const analyze = db.harness.explain.bind(db.harness);
          db.scans.length = 0;
          const found = await db.query((r) => r.query('messages').withIndex('by_author', (q) => q.eq('author', 'author7')).collect());
          assert.equal(found.length, 10);
          const eqScan = db.scans[0]!;
          assert.equal(eqScan.index, 'by_author');
          const plan = await analyze(eqScan);
          assert.ok(db.harness.usesIndex(plan, 'messages', 'by_author'), `withIndex eq reads the index:\n${plan}`);

          db.scans.length = 0;
          await db.query((r) => r.query('messages').withIndex('by_author', (q) => q.gte('author', 'author10').lt('author', 'author12')).order('desc').take(5));
          const rangePlan = await analyze(db.scans[0]!);
          assert.ok(db.harness.usesIndex(rangePlan, 'messages', 'by_author'), `a descending range reads the index:\n${rangePlan}`);

          db.scans.length = 0;
          await db.query((r) => r.query('messages').order('desc').first());
          const creationPlan = await analyze(db.scans[0]!);
          assert.ok(db.harness.usesIndex(creationPlan, 'messages', 'by_creation_time'), `the default order reads the creation-time index:\n${creationPlan}`);
        }),
      );
    });

    describe('transactions', () => {
      test(
        'onCommit hooks run after the commit, and not at all when the transaction or their savepoint rolls back',
        withDb(async (db) => {
          const ran: string[] = [];
          const value = await db.store.write(async (tx) => {
            tx.onCommit(() => ran.push('committed'));
            await tx.savepoint(async () => tx.onCommit(() => ran.push('kept savepoint'))).catch(() => {});
            await tx
              .savepoint(async () => {
                tx.onCommit(() => ran.push('rolled-back savepoint'));
                throw new Error('undo this savepoint');
              })
              .catch(() => {});
            assert.deepEqual(ran, [], 'nothing runs before the commit');
            return 'done';
          }, TIMEOUT);
          assert.equal(value, 'done');
          assert.deepEqual(ran, ['committed', 'kept savepoint']);
          await assert.rejects(
            db.store.write(async (tx) => {
              tx.onCommit(() => ran.push('never'));
              throw new Error('roll back');
            }, TIMEOUT),
            /roll back/,
          );
          assert.deepEqual(ran, ['committed', 'kept savepoint']);
        }),
      );

      test(
        'queries cannot write: ctx.db.insert, patch, replace and delete in a query throw',
        withDb(async (db) => {
          const id = await db.mutation((w) => w.insert('notes', { n: 1 }));
          const backend = db.backend({
            'q:insert': query(async (ctx) => (ctx.db as unknown as DatabaseWriter).insert('notes', { n: 2 })),
            'q:patch': query(async (ctx, { id }) => (ctx.db as unknown as DatabaseWriter).patch(id, { n: 2 })),
            'q:replace': query(async (ctx, { id }) => (ctx.db as unknown as DatabaseWriter).replace(id, { n: 2 })),
            'q:delete': query(async (ctx, { id }) => (ctx.db as unknown as DatabaseWriter).delete(id)),
          });
          for (const op of ['insert', 'patch', 'replace', 'delete']) {
            await assert.rejects(call(backend, 'query', `q:${op}`, { id }), /queries cannot modify the database/, `db.${op} in a query`);
          }
          await assert.rejects(db.query((r) => (r as DatabaseWriter).insert('notes', { n: 3 })), /queries cannot modify the database/);
          assert.deepEqual((await db.query((r) => r.query('notes').collect())).map((d) => d.n), [1]);
        }),
      );

      test(
        'a mutation that throws leaves nothing behind, including a table it created',
        withDb(async (db) => {
          const kept = await db.mutation((w) => w.insert('notes', { n: 1 }));
          let createdId = '';
          await assert.rejects(
            db.mutation(async (w) => {
              await w.patch(kept, { n: 2 });
              await w.insert('notes', { n: 3 });
              createdId = await w.insert('fresh_table', { n: 4 });
              await w.delete(kept);
              throw new Error('boom');
            }),
            /boom/,
          );
          assert.deepEqual(fieldsOf(await db.query((r) => r.get(kept))), { n: 1 });
          assert.deepEqual((await db.query((r) => r.query('notes').collect())).map((d) => d.n), [1]);
          assert.deepEqual(await db.query((r) => r.query('fresh_table').collect()), []);
          assert.equal(await db.query((r) => r.get(createdId)), null);
          if (db.store.dialect === 'sqlite') {
            assert.equal(await db.store.tableNumber('fresh_table'), null, 'the table itself was rolled back');
          }
          // A table created afterwards works, whatever number it gets.
          const other = await db.mutation((w) => w.insert('another_table', { n: 5 }));
          assert.deepEqual(fieldsOf(await db.query((r) => r.get(other))), { n: 5 });
          assert.deepEqual(fieldsOf(await db.query((r) => r.get('another_table', other))), { n: 5 });
          assert.equal(await db.query(async (r) => r.normalizeId('another_table', other)), other);
          const fresh = await db.mutation((w) => w.insert('fresh_table', { n: 6 }));
          assert.deepEqual((await db.query((r) => r.query('fresh_table').collect())).map((d) => d._id), [fresh]);
        }),
      );

      test(
        'a nested runMutation that throws, caught by its caller, leaves no trace of its writes',
        withDb(async (db) => {
          const backend = db.backend({
            'nested:inner': mutation(async (ctx) => {
              await ctx.db.insert('log', { who: 'inner' });
              await ctx.db.insert('inner_only', { who: 'inner' });
              throw new Error('inner failed');
            }),
            'nested:outer': mutation(async (ctx) => {
              await ctx.db.insert('log', { who: 'outer-before' });
              let caught = '';
              try {
                await ctx.runMutation('nested:inner', {});
              } catch (error) {
                caught = (error as Error).message;
              }
              await ctx.db.insert('log', { who: 'outer-after' });
              // The table the failed inner call created is gone; writing to it creates it again.
              await ctx.db.insert('inner_only', { who: 'outer' });
              return caught;
            }),
            'nested:read': query(async (ctx) => ({
              log: (await ctx.db.query('log').collect()).map((d) => d.who),
              innerOnly: (await ctx.db.query('inner_only').collect()).map((d) => d.who),
            })),
          });
          const caught = await call(backend, 'mutation', 'nested:outer');
          assert.match(String(caught), /inner failed/);
          assert.deepEqual(await call(backend, 'query', 'nested:read'), { log: ['outer-before', 'outer-after'], innerOnly: ['outer'] });
          // Later mutations are unaffected.
          await call(backend, 'mutation', 'nested:outer');
          assert.deepEqual(await call(backend, 'query', 'nested:read'), {
            log: ['outer-before', 'outer-after', 'outer-before', 'outer-after'],
            innerOnly: ['outer', 'outer'],
          });
        }),
      );

      test(
        'nested runMutations started together run one after another; the failing one alone is undone',
        withDb(async (db) => {
          const backend = db.backend({
            'nested:write': mutation({
              args: { who: v.string(), fail: v.boolean() },
              handler: async (ctx, { who, fail }) => {
                await ctx.db.insert('log', { who, step: 1 });
                await sleep(5);
                await ctx.db.insert('log', { who, step: 2 });
                if (fail) throw new Error(`${who} failed`);
                return who;
              },
            }),
            'nested:parallel': mutation(async (ctx) => {
              const results = await Promise.allSettled([
                ctx.runMutation('nested:write', { who: 'a', fail: false }),
                ctx.runMutation('nested:write', { who: 'b', fail: true }),
                ctx.runMutation('nested:write', { who: 'c', fail: false }),
              ]);
              return results.map((result) => result.status);
            }),
            'nested:read': query(async (ctx) => (await ctx.db.query('log').collect()).map((d) => `${d.who}${d.step}`)),
          });
          assert.deepEqual(await call(backend, 'mutation', 'nested:parallel'), ['fulfilled', 'rejected', 'fulfilled']);
          assert.deepEqual(await call(backend, 'query', 'nested:read'), ['a1', 'a2', 'c1', 'c2']);
        }),
      );

      test(
        'a mutation past its time limit is rolled back, and its late writes cannot land in the next mutation',
        withDb(async (db) => {
          const slow = db.mutation(
            async (w) => {
              await w.insert('timed', { who: 'slow-early' });
              await sleep(300);
              await w.insert('timed', { who: 'slow-late' });
            },
            { timeoutMs: 100 },
          );
          const slowFailed = assert.rejects(slow, /did not finish within 100 ms/);
          // Submitted together, so SQLite runs both in one group commit; still
          // running when the slow mutation's code wakes up and writes.
          const next = db.mutation(async (w) => {
            await sleep(400);
            await w.insert('timed', { who: 'next' });
          });
          await slowFailed;
          await next;
          await sleep(50);
          assert.deepEqual((await db.query((r) => r.query('timed').collect())).map((d) => d.who), ['next']);
        }),
      );

      test(
        'a mutation that outlived its transaction cannot release a savepoint of the next one: savepoint names are never reused',
        withDb(async (db) => {
          const api = (tx: WriteTx) => new DocumentApi(db.store, tx, db.schema, true);
          const slow = db.store.write(
            async (tx) => {
              // Still inside its savepoint when the time limit ends the transaction.
              await tx.savepoint(async () => {
                await api(tx).insert('late', { who: 'slow' });
                await sleep(300);
              });
            },
            { timeoutMs: 100 },
          );
          const slowFailed = assert.rejects(slow, /did not finish within 100 ms/);
          // Submitted together: on SQLite the next mutation runs on the same
          // connection, and opens its own savepoint while the slow one sleeps.
          const next = db.store.write(async (tx) => {
            await api(tx).insert('late', { who: 'next-outer' });
            const inner = tx.savepoint(async () => {
              await api(tx).insert('late', { who: 'next-inner' });
              await sleep(400);
              throw new Error('the nested mutation fails');
            });
            await assert.rejects(inner, /the nested mutation fails/);
          }, TIMEOUT);
          await slowFailed;
          await next;
          assert.deepEqual((await db.query((r) => r.query('late').collect())).map((d) => d.who), ['next-outer'], 'the failed savepoint of the next mutation was rolled back');
        }),
      );

      test(
        'once its transaction is closed, every ctx.db call of a mutation or query that kept running throws',
        withDb(async (db) => {
          const seed = await db.mutation((w) => w.insert('kept', { n: 1 }));
          let lateWriter!: DatabaseWriter;
          await assert.rejects(
            db.mutation(
              async (w) => {
                lateWriter = w;
                await sleep(300);
              },
              { timeoutMs: 100 },
            ),
            /did not finish within 100 ms/,
          );
          let lateReader!: DatabaseReader;
          await assert.rejects(
            db.store.read(
              async (tx) => {
                lateReader = new DocumentApi(db.store, tx, db.schema, false);
                await sleep(300);
              },
              { timeoutMs: 100 },
            ),
            /did not finish within 100 ms/,
          );
          const over = /transaction is over/;
          for (const db of [lateWriter, lateReader]) {
            await assert.rejects(db.get(seed), over);
            await assert.rejects(db.query('kept').collect(), over);
            await assert.rejects(db.query('missing_table').first(), over);
          }
          await assert.rejects(lateWriter.insert('kept', { n: 2 }), over);
          await assert.rejects(lateWriter.insert('new_table', { n: 2 }), over);
          await assert.rejects(lateWriter.patch(seed, { n: 3 }), over);
          await assert.rejects(lateWriter.replace(seed, { n: 4 }), over);
          await assert.rejects(lateWriter.delete(seed), over);
          assert.deepEqual((await db.query((r) => r.query('kept').collect())).map((d) => d.n), [1]);
          assert.equal(await db.query((r) => r.query('new_table').first()), null);
        }),
      );

      test(
        'a query sees one consistent snapshot while mutations commit',
        withDb(async (db) => {
          const [a, b] = await db.mutation(async (w) => [await w.insert('counters', { n: 0 }), await w.insert('counters', { n: 0 })]);
          const MUTATIONS = 150;
          let done = false;
          const writes = (async () => {
            for (let i = 0; i < MUTATIONS; i++) {
              // Two or three in flight at once, each changing both counters with a pause between.
              await Promise.all(
                [0, 1].map(() =>
                  db.mutation(async (w) => {
                    const first = (await w.get(a))!;
                    await w.patch(a, { n: (first.n as number) + 1 });
                    await sleep(0);
                    const second = (await w.get(b))!;
                    await w.patch(b, { n: (second.n as number) + 1 });
                  }),
                ),
              );
            }
            done = true;
          })();
          const seen = new Set<number>();
          let reads = 0;
          const reader = async () => {
            while (!done) {
              const [x, y, again] = await db.query(async (r) => {
                const x = (await r.get(a))!.n as number;
                await sleep(1);
                const y = (await r.get(b))!.n as number;
                await sleep(0);
                const again = (await r.query('counters').collect()).map((d) => d.n as number);
                return [x, y, again] as const;
              });
              reads++;
              assert.equal(x, y, `a query saw counters ${x} and ${y}`);
              assert.deepEqual(again, [x, x], 'a second read in the same query sees the same snapshot');
              seen.add(x);
            }
          };
          await Promise.all([writes, reader(), reader(), reader()]);
          assert.ok(reads > 10, `the readers ran (${reads} reads)`);
          assert.ok(seen.size > 3, `the readers saw the counters move (${seen.size} distinct values)`);
          const final = await db.query(async (r) => [(await r.get(a))!.n, (await r.get(b))!.n]);
          assert.deepEqual(final, [MUTATIONS * 2, MUTATIONS * 2]);
        }),
      );

      test(
        'a query on a table that a mutation in flight is creating sees an empty table',
        withDb(async (db) => {
          let created!: () => void;
          const insertedFirst = new Promise<void>((resolve) => (created = resolve));
          const writing = db.mutation(async (w) => {
            await w.insert('brand_new', { n: 1 });
            created();
            // Still inside the transaction while the query below runs.
            await sleep(150);
            return w.insert('brand_new', { n: 2 });
          });
          await insertedFirst;
          const during = await db.query(async (r) => ({ all: await r.query('brand_new').collect(), first: await r.query('brand_new').first() }));
          assert.deepEqual(during, { all: [], first: null });
          await writing;
          assert.deepEqual((await db.query((r) => r.query('brand_new').collect())).map((d) => d.n), [1, 2]);
        }),
      );

      test(
        '200 concurrent increments of one document lose no update',
        withDb(async (db) => {
          const id = await db.mutation((w) => w.insert('counter', { n: 0 }));
          const backend = db.backend({
            'counter:increment': mutation({
              args: { id: v.id('counter') },
              handler: async (ctx, { id }) => {
                const doc = (await ctx.db.get(id))!;
                await ctx.db.patch(id, { n: (doc.n as number) + 1 });
                return (doc.n as number) + 1;
              },
            }),
          });
          const results = await Promise.all(Array.from({ length: 200 }, () => call(backend, 'mutation', 'counter:increment', { id })));
          assert.equal((await db.query((r) => r.get(id)))!.n, 200);
          // Each increment saw a different value: they ran one after another.
          assert.deepEqual([...results].sort((x, y) => (x as number) - (y as number)), Array.from({ length: 200 }, (_, i) => i + 1));
        }),
      );
    });
  });
}
