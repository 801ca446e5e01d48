import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli, startGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, ROOT } from '../helpers/project.js';

// `portico codegen` writes functions/_generated/, and the TypeScript
// compiler holds code to it: the official ConvexHttpClient with the
// generated `api` is typed end to end, ctx.db knows the tables, and every
// misuse below is a compile error (each `@ts-expect-error` fails the
// compile if its line stops being an error).

const FILES: Record<string, string> = {
  'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
routes: []
`,
  'tsconfig.json': JSON.stringify({
    compilerOptions: { target: 'ES2022', lib: ['ES2023', 'DOM'], module: 'ESNext', moduleResolution: 'Bundler', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    include: ['functions', 'client.ts', 'checks.ts'],
  }),
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({
  messages: defineTable({ author: v.string(), body: v.string(), likes: v.optional(v.number()) }).index('by_author', ['author']),
});
`,
  'functions/messages.ts': `
import { v } from 'portico';
import { internalMutation, mutation, query } from './_generated/server';
import { internal } from './_generated/api';
import type { Id } from './_generated/dataModel';

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, args): Promise<Id<'messages'>> => {
    const id = await ctx.db.insert('messages', args);
    await ctx.scheduler.runAfter(0, internal.messages.like, { id });
    return id;
  },
});

export const list = query({
  args: { author: v.optional(v.string()) },
  handler: async (ctx, { author }) => {
    const all = await ctx.db.query('messages').collect();
    return author === undefined ? all : all.filter((message) => message.author === author);
  },
});

export const like = internalMutation({
  args: { id: v.id('messages') },
  handler: async (ctx, { id }) => {
    const message = await ctx.db.get(id);
    if (message) await ctx.db.patch(id, { likes: (message.likes ?? 0) + 1 });
  },
});
`,
  'functions/nested/util.ts': `
import { query } from '../_generated/server';
export const ping = query(async () => 'pong' as const);
`,
  'client.ts': `
import { ConvexHttpClient } from 'convex/browser';
import { api, internal } from './functions/_generated/api';
import type { Doc, Id } from './functions/_generated/dataModel';

export async function main(client: ConvexHttpClient) {
  const id: Id<'messages'> = await client.mutation(api.messages.send, { author: 'ada', body: 'hi' });
  const mine: Doc<'messages'>[] = await client.query(api.messages.list, { author: 'ada' });
  const all = await client.query(api.messages.list, {});
  const first: string | undefined = all[0]?.body;
  const pong: 'pong' = await client.query(api.nested.util.ping);
  // @ts-expect-error an argument of the wrong type
  await client.mutation(api.messages.send, { author: 1, body: 'hi' });
  // @ts-expect-error a missing argument
  await client.mutation(api.messages.send, { author: 'ada' });
  // @ts-expect-error a misspelled function
  await client.query(api.messages.lst, {});
  // @ts-expect-error an internal function is not callable by clients
  await client.mutation(internal.messages.like, { id });
  // @ts-expect-error a query called as a mutation
  await client.mutation(api.messages.list, {});
  // @ts-expect-error a field documents do not have
  mine[0]?.bdy;
  // @ts-expect-error an id of another table
  const other: Id<'users'> = id;
  return [first, pong, other];
}
`,
  'checks.ts': `
import type { MutationCtx, QueryCtx } from './functions/_generated/server';
import { api, internal } from './functions/_generated/api';
import type { Id } from './functions/_generated/dataModel';

export async function checks(ctx: MutationCtx, reader: QueryCtx, id: Id<'messages'>) {
  await ctx.db.insert('messages', { author: 'a', body: 'b' });
  // @ts-expect-error a field of the wrong type
  await ctx.db.insert('messages', { author: 1, body: 'b' });
  // @ts-expect-error a table the schema does not declare
  await ctx.db.query('nosuch').collect();
  const doc = await ctx.db.get(id);
  const likes: number | undefined = doc?.likes;
  // @ts-expect-error patching a field the table does not have
  await ctx.db.patch(id, { title: 'x' });
  const sent: Id<'messages'> = await ctx.runMutation(api.messages.send, { author: 'a', body: 'b' });
  // @ts-expect-error runMutation with a wrong argument
  await ctx.runMutation(api.messages.send, { author: 'a' });
  await ctx.scheduler.runAfter(1000, internal.messages.like, { id });
  // @ts-expect-error queries have no scheduler
  reader.scheduler;
  // @ts-expect-error queries cannot write
  await reader.db.insert('messages', { author: 'a', body: 'b' });
  return [likes, sent];
}
`,
};

function tsc(dir: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(dir, 'tsconfig.json')], { cwd: dir });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('portico codegen', () => {
  let dir: string;
  before(async () => {
    dir = await makeProject(FILES);
  });
  after(async () => {
    await removeProject(dir);
  });

  test('writes api, dataModel and server into functions/_generated; --check says when they are stale', async () => {
    const stale = await runCli(['codegen', '-c', path.join(dir, 'routes.yaml'), '--check'], { cwd: dir });
    assert.equal(stale.code, 1, stale.stderr);
    assert.match(stale.stderr, /functions\/_generated is out of date/);
    const written = await runCli(['codegen', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /wrote .*api\.d\.ts/);
    const api = await readFile(path.join(dir, 'functions/_generated/api.d.ts'), 'utf8');
    assert.match(api, /send: FunctionReference<"mutation", "public"/);
    assert.match(api, /like: FunctionReference<"mutation", "internal"/);
    assert.match(api, /nested: \{\n\s+util: \{\n\s+ping: FunctionReference<"query", "public"/);
    const dataModel = await readFile(path.join(dir, 'functions/_generated/dataModel.d.ts'), 'utf8');
    assert.match(dataModel, /export type TableNames = "messages";/);
    assert.match(dataModel, /likes\?: number;/);
    assert.equal((await runCli(['codegen', '-c', path.join(dir, 'routes.yaml'), '--check'], { cwd: dir })).code, 0);
  });

  test('tsc accepts correct use and rejects each misuse (the @ts-expect-error lines)', async () => {
    const result = await tsc(dir);
    assert.equal(result.code, 0, result.output);
  });

  test('a misuse without @ts-expect-error fails the compile, naming the file', async () => {
    await writeFile(path.join(dir, 'checks.ts'), `${FILES['checks.ts']}\nexport const wrong = (ctx: MutationCtx) => ctx.db.insert('messages', { author: 'a' });\n`);
    try {
      const result = await tsc(dir);
      assert.notEqual(result.code, 0);
      assert.match(result.output, /checks\.ts\(\d+,\d+\): error TS\d+/);
    } finally {
      await writeFile(path.join(dir, 'checks.ts'), FILES['checks.ts']!);
    }
  });

  test('a new function makes _generated stale until codegen runs again', async () => {
    await writeFile(path.join(dir, 'functions/extra.ts'), `import { query } from './_generated/server';\nexport const count = query(async (ctx) => (await ctx.db.query('messages').collect()).length);\n`);
    const stale = await runCli(['codegen', '-c', path.join(dir, 'routes.yaml'), '--check'], { cwd: dir });
    assert.equal(stale.code, 1, stale.stderr);
    assert.match(stale.stderr, /api\.d\.ts/);
    assert.equal((await runCli(['codegen', '-c', path.join(dir, 'routes.yaml')], { cwd: dir })).code, 0);
    assert.match(await readFile(path.join(dir, 'functions/_generated/api.d.ts'), 'utf8'), /extra: \{\n\s+count: FunctionReference<"query", "public", .*>;/);
  });

  test('validate warns about a stale _generated; dev rewrites it on change', async () => {
    await writeFile(path.join(dir, 'functions/later.ts'), `import { query } from './_generated/server';\nexport const one = query(async () => 1);\n`);
    const validated = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.equal(validated.code, 0, 'a stale folder is a warning, not an error');
    assert.match(validated.stdout, /_generated\/api\.d\.ts:1:1: warning: _generated\/api\.d\.ts is out of date with the functions: run portico codegen \[codegen\/stale\]/);

    const gateway = await startGateway(dir, { command: 'dev' });
    try {
      const api = path.join(dir, 'functions/_generated/api.d.ts');
      const deadline = Date.now() + 20_000;
      while (!/later: \{/.test(await readFile(api, 'utf8')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      assert.match(await readFile(api, 'utf8'), /later: \{/, 'dev wrote the stale file at start');
      await writeFile(path.join(dir, 'functions/later.ts'), `import { query } from './_generated/server';\nexport const one = query(async () => 1);\nexport const two = query(async () => 2);\n`);
      while (!/two: FunctionReference/.test(await readFile(api, 'utf8')) && Date.now() < deadline + 10_000) await new Promise((resolve) => setTimeout(resolve, 200));
      assert.match(await readFile(api, 'utf8'), /two: FunctionReference<"query"/, 'and again after a change');
    } finally {
      await gateway.stop();
    }
    assert.equal((await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir })).stdout.includes('codegen/stale'), false);
  });

  test("a _generated folder another tool wrote (npx convex codegen) is not reported or rewritten", async () => {
    const other = await makeProject({
      'routes.yaml': FILES['routes.yaml']!,
      'functions/notes.ts': `import { query } from 'portico';\nexport const all = query(async () => []);\n`,
      'functions/_generated/api.d.ts': '/* written by another tool */\nexport declare const api: any;\n',
    });
    try {
      const validated = await runCli(['validate', '-c', path.join(other, 'routes.yaml')], { cwd: other });
      assert.equal(validated.code, 0, validated.stderr);
      assert.doesNotMatch(validated.stdout, /codegen\/stale/);
      assert.equal(await readFile(path.join(other, 'functions/_generated/api.d.ts'), 'utf8'), '/* written by another tool */\nexport declare const api: any;\n');
    } finally {
      await removeProject(other);
    }
  });
});
