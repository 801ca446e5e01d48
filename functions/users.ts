import { httpAction, internalMutation, internalQuery, v } from 'portico';
import { internal } from 'portico';

// A profile per signed-in user, keyed by the token's identity. The route is
// `auth: required`: without a valid token the gateway answers 401 before
// this code runs.

export const byToken = internalQuery({
  args: { tokenIdentifier: v.string() },
  handler: (ctx, { tokenIdentifier }) =>
    ctx.db.query('users').withIndex('by_token', (q) => q.eq('tokenIdentifier', tokenIdentifier)).unique(),
});

export const upsert = internalMutation({
  args: { tokenIdentifier: v.string(), name: v.string(), bio: v.optional(v.string()) },
  handler: async (ctx, args) => {
    const existing = await ctx.db.query('users').withIndex('by_token', (q) => q.eq('tokenIdentifier', args.tokenIdentifier)).unique();
    if (existing) {
      await ctx.db.patch(existing._id, { name: args.name, bio: args.bio });
      return existing._id;
    }
    return ctx.db.insert('users', args);
  },
});

/** GET /users/me (or /users/<tokenIdentifier>) and PATCH /users/me {"name", "bio"}. */
export const byId = httpAction(async (ctx, request) => {
  const identity = (await ctx.auth.getUserIdentity())!;
  const id = ctx.params.id;
  if (id !== 'me' && id !== identity.tokenIdentifier) {
    return Response.json({ code: 'Forbidden', message: 'You can only see your own profile (/users/me)' }, { status: 403 });
  }
  if (request.method === 'PATCH') {
    const { name, bio } = await request.json();
    if (typeof name !== 'string') return Response.json({ code: 'BadProfile', message: 'Send {"name": string, "bio"?: string}' }, { status: 400 });
    await ctx.runMutation(internal.users.upsert, { tokenIdentifier: identity.tokenIdentifier, name, ...(typeof bio === 'string' ? { bio } : {}) });
  }
  const profile = await ctx.runQuery(internal.users.byToken, { tokenIdentifier: identity.tokenIdentifier });
  return Response.json({ identity, profile });
});
