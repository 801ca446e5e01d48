// A project whose functions schedule others, shared by the scheduler tests.

export const SCHEDULER_FILES = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({
  runs: defineTable({ key: v.string(), by: v.optional(v.string()) }).index('by_key', ['key']),
  marks: defineTable({ key: v.string() }),
});
`,
  'functions/jobs.ts': `
import { action, httpAction, internal, internalAction, internalMutation, mutation, query, v } from 'portico';

export const record = internalMutation({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    await ctx.db.insert('runs', { key, by: process.env.INSTANCE });
  },
});

export const failing = internalMutation({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    await ctx.db.insert('runs', { key });
    throw new Error('boom: ' + key);
  },
});

export const slowAction = internalAction({
  args: { key: v.string(), ms: v.number() },
  handler: async (ctx, { key, ms }) => {
    await ctx.runMutation(internal.jobs.record, { key: key + ':started' });
    await new Promise((resolve) => setTimeout(resolve, ms));
    await ctx.runMutation(internal.jobs.record, { key: key + ':finished' });
    return null;
  },
});

export const parentAction = internalAction({
  args: { key: v.string(), ms: v.number() },
  handler: async (ctx, { key, ms }) => {
    await ctx.runMutation(internal.jobs.record, { key: key + ':started' });
    await new Promise((resolve) => setTimeout(resolve, ms));
    await ctx.scheduler.runAfter(0, internal.jobs.record, { key: key + ':child' });
    await ctx.runMutation(internal.jobs.scheduleChild, { key: key + ':grandchild' });
  },
});

export const scheduleChild = internalMutation({
  args: { key: v.string() },
  handler: (ctx, { key }) => ctx.scheduler.runAfter(0, internal.jobs.record, { key }),
});

export const scheduleParent = mutation({
  args: { key: v.string(), ms: v.number() },
  handler: (ctx, { key, ms }) => ctx.scheduler.runAfter(0, internal.jobs.parentAction, { key, ms }),
});

export const aQuery = query(async () => 1);

export const schedule = mutation({
  args: { delayMs: v.number(), key: v.string(), count: v.optional(v.number()), fn: v.optional(v.string()), throwAfter: v.optional(v.boolean()) },
  handler: async (ctx, { delayMs, key, count, fn, throwAfter }) => {
    const ids = [];
    for (let i = 0; i < (count ?? 1); i++) {
      ids.push(await ctx.scheduler.runAfter(delayMs, fn ?? internal.jobs.record, { key: count === undefined ? key : key + ':' + i }));
    }
    if (throwAfter) throw new Error('thrown after scheduling');
    return ids;
  },
});

export const scheduleAt = mutation({
  args: { at: v.any(), key: v.string() },
  handler: (ctx, { at, key }) => ctx.scheduler.runAt(at, internal.jobs.record, { key }),
});

export const scheduleSlow = mutation({
  args: { key: v.string(), ms: v.number() },
  handler: (ctx, { key, ms }) => ctx.scheduler.runAfter(0, internal.jobs.slowAction, { key, ms }),
});

export const scheduleActions = mutation({
  args: { key: v.string(), count: v.number(), delayMs: v.number() },
  handler: async (ctx, { key, count, delayMs }) => {
    for (let i = 0; i < count; i++) await ctx.scheduler.runAfter(delayMs, internal.jobs.slowAction, { key: key + ':' + i, ms: 0 });
  },
});

export const scheduleBig = mutation({
  args: { count: v.number(), size: v.number() },
  handler: async (ctx, { count, size }) => {
    const payload = 'x'.repeat(size);
    for (let i = 0; i < count; i++) await ctx.scheduler.runAfter(3_600_000, internal.jobs.record, { key: payload });
    return count;
  },
});

export const scheduleRaw = mutation({
  args: { delayMs: v.any(), fn: v.string(), args: v.any() },
  handler: (ctx, { delayMs, fn, args }) => ctx.scheduler.runAfter(delayMs, fn, args),
});

export const cancel = mutation({
  args: { id: v.string() },
  handler: (ctx, { id }) => ctx.scheduler.cancel(id),
});

export const fromAction = action({
  args: { key: v.string() },
  handler: async (ctx, { key }) => {
    await ctx.scheduler.runAfter(0, internal.jobs.record, { key });
    throw new Error('the action failed after scheduling');
  },
});

export const job = query({
  args: { id: v.string() },
  handler: (ctx, { id }) => ctx.db.system.get(id),
});

export const jobs = query(async (ctx) => ctx.db.system.query('_scheduled_functions').collect());

export const hasScheduler = query(async (ctx) => 'scheduler' in ctx);

export const runs = query(async (ctx) => (await ctx.db.query('runs').collect()).map((r) => ({ key: r.key, by: r.by ?? null })));

export const runTimes = query({
  args: { key: v.string() },
  handler: async (ctx, { key }) => (await ctx.db.query('runs').withIndex('by_key', (q) => q.eq('key', key)).collect()).map((r) => ({ at: r._creationTime, by: r.by ?? null })),
});

export const viaHttp = httpAction(async (ctx, request) => {
  const { key } = await request.json();
  const id = await ctx.scheduler.runAfter(0, internal.jobs.record, { key });
  return Response.json({ id });
});
`,
};

export function schedulerRoutes(database: string): string {
  return `version: 1
functions: ./functions
backend: { kind: local, database: "${database}" }
storage: { kind: fs, dir: ./.data/storage }
routes:
  - { path: /schedule, method: POST, handler: "jobs:viaHttp" }
`;
}

export async function callApi(url: string, kind: 'query' | 'mutation' | 'action', path: string, args: Record<string, unknown> = {}): Promise<{ status: string; value?: any; errorMessage?: string }> {
  const response = await fetch(`${url}/api/${kind}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path, args }),
  });
  return (await response.json()) as { status: string; value?: any; errorMessage?: string };
}

export async function value(url: string, kind: 'query' | 'mutation' | 'action', path: string, args: Record<string, unknown> = {}): Promise<any> {
  const body = await callApi(url, kind, path, args);
  if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.value;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** functions/crons.ts running jobs:record every `seconds` under `key`. */
export function cronsFile(jobs: { name: string; seconds: number; key: string }[]): string {
  return `
import { cronJobs, internal } from 'portico';
const crons = cronJobs();
${jobs.map((job) => `crons.interval(${JSON.stringify(job.name)}, { seconds: ${job.seconds} }, internal.jobs.record, { key: ${JSON.stringify(job.key)} });`).join('\n')}
export default crons;
`;
}
