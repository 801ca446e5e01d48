import { api, httpAction, internal, internalMutation, mutation, query, v } from 'portico';

// Data functions: callable from HTTP actions (ctx.runQuery / runMutation)
// and from clients over the function API (ConvexHttpClient).

export const sendMessage = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    const first = (await ctx.db.query('messages').withIndex('by_author', (q) => q.eq('author', author)).first()) === null;
    // A welcome a minute after an author's first message. Scheduled in this
    // mutation's transaction: if the insert fails, no welcome is sent.
    if (first) await ctx.scheduler.runAfter(60_000, internal.messages.welcome, { author });
    return ctx.db.insert('messages', { author, body, format: 'text' });
  },
});

export const welcome = internalMutation({
  args: { author: v.string() },
  handler: (ctx, { author }) => ctx.db.insert('messages', { author: 'Portico', body: `Welcome, ${author}!`, format: 'text' }),
});

/** Run daily by functions/crons.ts. */
export const dailyCount = internalMutation({
  args: {},
  handler: async (ctx) => {
    const count = (await ctx.db.query('messages').collect()).length;
    console.log(`${count} messages so far`);
    return count;
  },
});

export const sendImage = mutation({
  args: { author: v.string(), storageId: v.id('_storage') },
  handler: async (ctx, { author, storageId }) => {
    return ctx.db.insert('messages', { author, body: storageId, format: 'image' });
  },
});

/** Messages of one author, oldest first; images come with a URL. */
export const listByAuthor = query({
  args: { author: v.string() },
  handler: async (ctx, { author }) => {
    const messages = await ctx.db
      .query('messages')
      .withIndex('by_author', (q) => q.eq('author', author))
      .collect();
    return Promise.all(
      messages.map(async (message) =>
        message.format === 'image' ? { ...message, url: await ctx.storage.getUrl(message.body as string) } : message,
      ),
    );
  },
});

export const list = query({
  args: { limit: v.optional(v.number()) },
  handler: (ctx, { limit }) => ctx.db.query('messages').order('desc').take(limit ?? 50),
});

// HTTP actions, named by routes.yaml.

/** POST /postMessage {"author": "...", "body": "..."} */
export const postMessage = httpAction(async (ctx, request) => {
  const { author, body } = await request.json();
  if (typeof author !== 'string' || typeof body !== 'string') {
    return Response.json({ code: 'BadMessage', message: 'Send {"author": string, "body": string}' }, { status: 400 });
  }
  const id = await ctx.runMutation(api.messages.sendMessage, { author, body: `Sent via HTTP action: ${body}` });
  return Response.json({ id }, { status: 200 });
});

/** GET /getMessagesByAuthor?author=... */
export const getByAuthor = httpAction(async (ctx, request) => {
  const author = new URL(request.url).searchParams.get('author');
  if (!author) return Response.json({ code: 'MissingAuthor', message: 'Add ?author=<name>' }, { status: 400 });
  const messages = await ctx.runQuery(api.messages.listByAuthor, { author });
  return Response.json(messages);
});

/** GET /getAuthorMessages/<author>: the author is the rest of the path. */
export const getByAuthorPath = httpAction(async (ctx, request) => {
  const { pathname } = new URL(request.url);
  const author = decodeURIComponent(pathname.slice('/getAuthorMessages/'.length));
  const messages = await ctx.runQuery(api.messages.listByAuthor, { author });
  return Response.json(messages);
});
