import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConvexHttpClient } from 'convex/browser';
import { anyApi } from 'convex/server';
import { makeProject, removeProject } from '../helpers/project.js';
import { runCli, startGateway, type RunningGateway } from '../helpers/gateway.js';

// A Convex project as today's docs write it, in TypeScript: `httpRouter`
// from convex/server, builders from ./_generated/server, `api` and
// `internal` from ./_generated/api, `v` from convex/values, a schema. None
// of it is changed for Portico: routes.yaml only points at the folder
// (functions: ./convex, router: ./convex/http.ts) and adds a top-level CORS
// policy, which the router's routes take. The `_generated` files on disk,
// as `npx convex dev` leaves them, are never loaded: the bundler answers
// those imports itself (here they throw, to prove it).

const ORIGIN = 'http://app.example';

const files = {
  'routes.yaml': `version: 1
functions: ./convex
router: ./convex/http.ts
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
cors: { origins: ["${ORIGIN}"], allowHeaders: [Content-Type] }
routes:
  - { path: /fromYaml, method: GET, handler: "messages:getByAuthor" }
`,
  'convex/schema.ts': `import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({ author: v.string(), body: v.string() }).index("by_author", ["author"]),
});
`,
  'convex/messages.ts': `import { v } from "convex/values";
import { httpAction, internalMutation, mutation, query } from "./_generated/server";
import { api, internal } from "./_generated/api";

export const list = query({
  args: { author: v.string() },
  handler: async (ctx, { author }) =>
    ctx.db.query("messages").withIndex("by_author", (q) => q.eq("author", author)).collect(),
});

export const sendOne = internalMutation({
  args: { body: v.string(), author: v.string() },
  handler: async (ctx, { body, author }) => {
    await ctx.db.insert("messages", { body, author });
  },
});

export const send = mutation({
  args: { body: v.string(), author: v.string() },
  handler: async (ctx, args) => {
    await ctx.runMutation(internal.messages.sendOne, args);
  },
});

export const postMessage = httpAction(async (ctx, request) => {
  const { author, body } = await request.json();
  await ctx.runMutation(internal.messages.sendOne, { body: \`Sent via HTTP action: \${body}\`, author });
  return new Response(null, { status: 200 });
});

export const getByAuthor = httpAction(async (ctx, request) => {
  const author = new URL(request.url).searchParams.get("author") ?? "";
  const messages = await ctx.runQuery(api.messages.list, { author });
  return Response.json(messages.map(({ author, body }) => ({ author, body })));
});
`,
  'convex/http.ts': `import { httpRouter } from "convex/server";
import { httpAction } from "./_generated/server";
import { api } from "./_generated/api";
import { getByAuthor, postMessage } from "./messages";

const http = httpRouter();

http.route({ path: "/postMessage", method: "POST", handler: postMessage });
http.route({ path: "/getMessagesByAuthor", method: "GET", handler: getByAuthor });
http.route({
  // Will match /getAuthorMessages/User+123 and the like
  pathPrefix: "/getAuthorMessages/",
  method: "GET",
  handler: httpAction(async (ctx, request) => {
    const author = decodeURIComponent(new URL(request.url).pathname.slice("/getAuthorMessages/".length));
    return Response.json(await ctx.runQuery(api.messages.list, { author }));
  }),
});

// A preflight written by hand, as Convex apps do.
http.route({ path: "/ownPreflight", method: "POST", handler: httpAction(async () => new Response("posted")) });
http.route({
  path: "/ownPreflight",
  method: "OPTIONS",
  handler: httpAction(async () =>
    new Response(null, { status: 204, headers: { "Access-Control-Allow-Origin": "${ORIGIN}", "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "X-Own", "Access-Control-Max-Age": "7" } })),
});

export default http;
`,
  'convex/crons.ts': `import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

const crons = cronJobs();
crons.interval("say hello", { hours: 1 }, internal.messages.sendOne, { author: "cron", body: "hello" });
export default crons;
`,
  'convex/_generated/api.js': 'throw new Error("the _generated/api.js on disk was loaded");\n',
  'convex/_generated/server.js': 'throw new Error("the _generated/server.js on disk was loaded");\n',
};

describe('a TypeScript Convex project: _generated imports, convex/server, convex/values', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject(files);
    gateway = await startGateway(dir, { timeoutMs: 60_000 });
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    await removeProject(dir);
  });

  test('an HTTP action runs an internal mutation through internal.messages.sendOne', async () => {
    const posted = await fetch(`${gateway.url}/postMessage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ author: 'ada', body: 'hello' }) });
    assert.equal(posted.status, 200);
    const listed = await fetch(`${gateway.url}/getMessagesByAuthor?author=ada`);
    assert.deepEqual(await listed.json(), [{ author: 'ada', body: 'Sent via HTTP action: hello' }]);
  });

  test('a prefix route and a YAML route share the modules', async () => {
    assert.deepEqual(
      ((await (await fetch(`${gateway.url}/getAuthorMessages/ada`)).json()) as { body: string }[]).map((m) => m.body),
      ['Sent via HTTP action: hello'],
    );
    assert.equal((await (await fetch(`${gateway.url}/fromYaml?author=ada`)).json()).length, 1);
  });

  test('the router routes take the top-level CORS policy and its generated preflight', async () => {
    const preflight = await fetch(`${gateway.url}/postMessage`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'Content-Type');
    const refused = await fetch(`${gateway.url}/postMessage`, { method: 'OPTIONS', headers: { Origin: 'http://elsewhere.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(refused.status, 403);
  });

  test("a router's own OPTIONS route answers with its own headers; the route beside it keeps the top-level policy", async () => {
    const preflight = await fetch(`${gateway.url}/ownPreflight`, { method: 'OPTIONS', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'X-Own');
    assert.equal(preflight.headers.get('access-control-max-age'), '7');
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'POST');
    const posted = await fetch(`${gateway.url}/ownPreflight`, { method: 'POST', headers: { Origin: ORIGIN } });
    assert.equal(await posted.text(), 'posted');
    assert.equal(posted.headers.get('access-control-allow-origin'), ORIGIN);
  });

  test('ConvexHttpClient calls api references; an internal function stays internal', async () => {
    const client = new ConvexHttpClient(gateway.url);
    await client.mutation(anyApi.messages!.send as any, { author: 'grace', body: 'from the client' });
    assert.deepEqual(
      ((await client.query(anyApi.messages!.list as any, { author: 'grace' })) as { body: string }[]).map((m) => m.body),
      ['from the client'],
    );
    await assert.rejects(client.mutation(anyApi.messages!.sendOne as any, { author: 'x', body: 'y' }), /Could not find public function for 'messages:sendOne'/);
  });

  test('v from convex/values checks the arguments: a number where a string is declared is refused', async () => {
    const client = new ConvexHttpClient(gateway.url);
    await assert.rejects(client.mutation(anyApi.messages!.send as any, { author: 'x', body: 42 }), /ArgumentValidationError|body/);
  });

  test('cronJobs from convex/server, naming an internal function through _generated/api', async () => {
    const crons = await runCli(['crons', '-c', path.join(dir, 'routes.yaml'), '--format', 'json'], { cwd: dir });
    assert.equal(crons.code, 0, crons.stdout + crons.stderr);
    assert.match(crons.stdout, /say hello/);
    assert.match(crons.stdout, /messages:sendOne/);
  });

  test('validate and routes see the router routes', async () => {
    const validate = await runCli(['validate', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.equal(validate.code, 0, validate.stdout);
    assert.match(validate.stdout, /OK \(6 routes\)/);
    const routes = await runCli(['routes', '-c', path.join(dir, 'routes.yaml')], { cwd: dir });
    assert.match(routes.stdout, /GET\s+\/getAuthorMessages\/\*\s+http\.ts:\d+\s+http:\/\/app\.example/);
    assert.match(routes.stdout, /POST\s+\/postMessage\s+messages:postMessage/);
  });
});
