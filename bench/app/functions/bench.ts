import { api, httpAction, mutation, query, v } from 'portico';

export const hello = httpAction(async () => new Response('hello'));

export const echo = httpAction(async (_ctx, request) => Response.json(await request.json()));

export const addNote = mutation({
  args: { author: v.string(), body: v.string() },
  handler: (ctx, args) => ctx.db.insert('notes', args),
});

export const latestOf = query({
  args: { author: v.string() },
  handler: (ctx, { author }) =>
    ctx.db.query('notes').withIndex('by_author', (q) => q.eq('author', author)).order('desc').first(),
});

/** A mutation through an HTTP action: one durable insert per request. */
export const add = httpAction(async (ctx, request) => {
  const { author, body } = await request.json();
  const id = await ctx.runMutation(api.bench.addNote, { author, body });
  return Response.json({ id });
});

/** A query through an HTTP action: an index lookup per request. */
export const latest = httpAction(async (ctx) => Response.json(await ctx.runQuery(api.bench.latestOf, { author: 'bench' })));

/** An upload URL (a client then POSTs the bytes to it, streamed to storage). */
export const uploadUrl = httpAction(async (ctx) => Response.json({ url: await ctx.storage.generateUploadUrl() }));

/** A large upload stored through ctx.storage. */
export const upload = httpAction(async (ctx, request) => {
  const storageId = await ctx.storage.store(await request.blob());
  return Response.json({ storageId });
});
