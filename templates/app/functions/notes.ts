import { api, httpAction, mutation, query, v } from 'portico';

// A query reads, a mutation writes (in one transaction), and an HTTP action
// answers a route of routes.yaml. Queries and mutations are also callable
// over the function API: POST /api/query {"path": "notes:list", "args": {}}.

export const list = query({
  args: { tag: v.optional(v.string()) },
  handler: async (ctx, { tag }) => {
    if (tag === undefined) return ctx.db.query('notes').order('desc').take(50);
    return ctx.db
      .query('notes')
      .withIndex('by_tag', (q) => q.eq('tag', tag))
      .collect();
  },
});

export const add = mutation({
  args: { text: v.string(), tag: v.optional(v.string()) },
  handler: async (ctx, { text, tag }) => ctx.db.insert('notes', { text, tag: tag ?? 'general' }),
});

/**
 * GET  /notes?tag=x            lists notes
 * POST /notes {"text": "..."}  adds one
 */
export const http = httpAction(async (ctx, request) => {
  if (request.method === 'GET') {
    const tag = new URL(request.url).searchParams.get('tag') ?? undefined;
    return Response.json(await ctx.runQuery(api.notes.list, { tag }));
  }
  const body = await request.json().catch(() => null);
  if (typeof body?.text !== 'string') {
    return Response.json({ code: 'BadNote', message: 'send {"text": string, "tag"?: string}' }, { status: 400 });
  }
  const id = await ctx.runMutation(api.notes.add, { text: body.text, tag: body.tag });
  return Response.json({ id }, { status: 201 });
});
