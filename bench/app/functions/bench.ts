import { api, httpAction, mutation, query, v } from 'portico';

export const hello = httpAction(async () => new Response('hello'));

export const echo = httpAction(async (_ctx, request) => Response.json(await request.json()));

/** The mutation scenarios' write: one insert into `entries`, a table no query scenario reads. */
export const addEntry = mutation({
  args: { author: v.string(), body: v.string() },
  handler: (ctx, args) => ctx.db.insert('entries', args),
});

/** The one document the query scenarios read, inserted before measuring (once: a second call finds it). */
export const seed = mutation({
  args: { author: v.string() },
  handler: async (ctx, { author }) => {
    const existing = await ctx.db.query('notes').withIndex('by_author', (q) => q.eq('author', author)).first();
    return existing?._id ?? ctx.db.insert('notes', { author, body: 'seed' });
  },
});

export const latestOf = query({
  args: { author: v.string() },
  handler: (ctx, { author }) =>
    ctx.db.query('notes').withIndex('by_author', (q) => q.eq('author', author)).order('desc').first(),
});

/**
 * The same lookup with an argument it ignores: a fresh `nonce` on every call
 * makes every call a different query, so none is answered from a cache.
 */
export const latestFor = query({
  args: { author: v.string(), nonce: v.number() },
  handler: (ctx, { author }) =>
    ctx.db.query('notes').withIndex('by_author', (q) => q.eq('author', author)).order('desc').first(),
});

/** A mutation through an HTTP action: one durable insert per request. */
export const add = httpAction(async (ctx, request) => {
  const { author, body } = await request.json();
  const id = await ctx.runMutation(api.bench.addEntry, { author, body });
  return Response.json({ id });
});

/** A query through an HTTP action, the same arguments every time (a cache may answer it). */
export const latest = httpAction(async (ctx) => Response.json(await ctx.runQuery(api.bench.latestOf, { author: 'bench' })));

let nonce = 0;

/** A query through an HTTP action with a fresh argument every time: never answered from a cache. */
export const latestFresh = httpAction(async (ctx) => Response.json(await ctx.runQuery(api.bench.latestFor, { author: 'bench', nonce: ++nonce })));

/** An upload URL (a client then POSTs the bytes to it, streamed to storage). */
export const uploadUrl = httpAction(async (ctx) => Response.json({ url: await ctx.storage.generateUploadUrl() }));

/** A large upload stored through ctx.storage. */
export const upload = httpAction(async (ctx, request) => {
  const storageId = await ctx.storage.store(await request.blob());
  return Response.json({ storageId });
});
