import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AuthError } from '../../src/auth/authenticator.js';
import { fixedIdentity } from '../../src/auth/request-identity.js';
import { ANONYMOUS, type CallKind, type CallResult, type Caller, type FunctionBackend, type IdentitySource } from '../../src/backends/function-backend.js';
import { convexToJson, jsonToConvex, type Value } from '../../src/values/value.js';

// The contract of the FunctionBackend interface, written once and run
// against every implementation: the local backend on SQLite and on
// PostgreSQL, and the remote backend in front of a second, real Portico
// instance. Each factory starts its backend on a project holding FUNCTIONS.

export const FUNCTIONS: Record<string, string> = {
  'functions/schema.ts': `
import { defineSchema, defineTable, v } from 'portico';
export default defineSchema({
  messages: defineTable({ author: v.string(), body: v.string() }).index('by_author', ['author']),
});
`,
  'functions/messages.ts': `
import { internalAction, internalMutation, internalQuery, mutation, query, v } from 'portico';

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: (ctx, args) => ctx.db.insert('messages', args),
});

export const list = query({
  args: { author: v.string() },
  handler: (ctx, { author }) => ctx.db.query('messages').withIndex('by_author', (q) => q.eq('author', author)).collect(),
});

export const count = query(async (ctx) => (await ctx.db.query('messages').collect()).length);

export default query(async () => 'the default export');

export const secret = internalQuery(async () => 'internal query result');
export const secretWrite = internalMutation(async (ctx) => ctx.db.insert('messages', { author: 'internal', body: 'secret' }));
export const secretAction = internalAction(async () => 'internal action result');
`,
  'functions/dir/file.ts': `
import { query } from 'portico';
export const fn = query(async () => 'nested module');
`,
  'functions/values.ts': `
import { query, mutation, action, v } from 'portico';

export const echo = query({ args: { value: v.any() }, handler: async (_ctx, { value }) => value });

export const typed = mutation({
  args: { count: v.int64(), data: v.bytes(), ratio: v.number(), nested: v.object({ list: v.array(v.union(v.int64(), v.string())), flag: v.boolean() }) },
  handler: async (_ctx, args) => ({
    countType: typeof args.count,
    dataIsBytes: args.data instanceof ArrayBuffer,
    doubled: args.count * 2n,
    firstByte: new Uint8Array(args.data)[0] ?? null,
    echo: args,
  }),
});

export const specials = action(async () => ({ negZero: -0, nan: NaN, inf: Infinity, negInf: -Infinity, big: 2n ** 62n, bytes: new Uint8Array([0, 255, 7]).buffer }));
`,
  'functions/errors.ts': `
import { ConvexError, query, mutation, action } from 'portico';

export const plain = query(async () => {
  throw new Error('plain failure');
});

export const withData = mutation(async () => {
  throw new ConvexError({ code: 'NOT_ALLOWED', amount: 2n ** 40n, nested: { list: [1n, 'x', null] } });
});

export const stringData = action(async () => {
  throw new ConvexError('just a message');
});
`,
  'functions/actions.ts': `
import { action, api, internal, makeFunctionReference } from 'portico';

export const sendAndCount = action(async (ctx, { author }: { author: string }) => {
  const id = await ctx.runMutation(api.messages.send, { author, body: 'from an action' });
  const mine = await ctx.runQuery('messages:list', { author });
  const total = await ctx.runQuery(makeFunctionReference('messages:count'));
  return { id, mine: mine.map((m: { body: string }) => m.body), total };
});

export const internalOnes = action(async (ctx) => ({
  query: await ctx.runQuery(internal.messages.secret),
  action: await ctx.runAction(internal.messages.secretAction),
}));

export const caught = action(async (ctx) => {
  try {
    await ctx.runMutation(api.errors.withData);
    return 'not thrown';
  } catch (error: any) {
    return { name: error.name, data: error.data };
  }
});
`,
  'functions/returns.ts': `
import { mutation, query, v } from 'portico';

export const badReturn = mutation({
  args: { tag: v.string() },
  returns: v.string(),
  handler: async (ctx, { tag }) => {
    await ctx.db.insert('messages', { author: tag, body: 'returned a number' });
    return 42 as any;
  },
});

export const unencodable = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    await ctx.db.insert('messages', { author: tag, body: 'returned a Map' });
    return new Map([['a', 1]]) as any;
  },
});

export const nestedBadReturn = mutation({
  args: { tag: v.string() },
  handler: async (ctx, { tag }) => {
    try {
      await ctx.runMutation('returns:badReturn', { tag });
    } catch {
      // The failed call's writes must be gone; this mutation goes on.
    }
    await ctx.db.insert('messages', { author: tag, body: 'outer' });
    return null;
  },
});

export const goodReturn = query({ args: {}, returns: v.object({ n: v.int64() }), handler: async () => ({ n: 1n }) });
`,
  'functions/auth.ts': `
import { query, mutation, action, api } from 'portico';

export const whoami = query(async (ctx) => ctx.auth.getUserIdentity());
export const whoamiMutation = mutation(async (ctx) => ctx.auth.getUserIdentity());
export const whoamiAction = action(async (ctx) => ({ direct: await ctx.auth.getUserIdentity(), viaQuery: await ctx.runQuery(api.auth.whoami) }));
export const whoamiOrError = query(async (ctx) => {
  try {
    return { identity: await ctx.auth.getUserIdentity() };
  } catch (error: any) {
    return { error: error.message };
  }
});
`,
  'functions/logs.ts': `
import { query, action } from 'portico';

export const chatty = query(async () => {
  console.log('hello', { a: 1 });
  console.warn('careful');
  return 'done';
});

export const chattyAction = action(async () => {
  console.info('from an action');
  console.error(new Error('oops').message);
  return 'done';
});
`,
};

export interface BackendHarness {
  backend: FunctionBackend;
  close(): Promise<void>;
}

/** Starts a backend over a project holding `files`; null when the test was skipped. */
export type BackendFactory = (t: TestContext, files: Record<string, string>) => Promise<BackendHarness | null>;

const IDENTITY = { tokenIdentifier: 'https://issuer.example|user-1', subject: 'user-1', issuer: 'https://issuer.example', name: 'Ada', email: 'ada@example.com' };

function caller(options: { internal?: boolean; identity?: IdentitySource } = {}): Caller {
  return { identity: options.identity ?? ANONYMOUS, internal: options.internal ?? false, requestId: 'contract-request', collectLogs: true };
}

export function backendContract(name: string, open: BackendFactory): void {
  test(`FunctionBackend contract: ${name}`, async (t) => {
    const harness = await open(t, FUNCTIONS);
    if (!harness) return;
    const { backend } = harness;
    const call = (kind: CallKind, fn: string, args: Record<string, Value> = {}, who: Caller = caller()): Promise<CallResult> =>
      backend.call({ kind, name: fn, args: convexToJson(args), caller: who });
    const success = async (kind: CallKind, fn: string, args: Record<string, Value> = {}, who: Caller = caller()): Promise<Value> => {
      const result = await call(kind, fn, args, who);
      assert.equal(result.status, 'success', `${fn} succeeds: ${result.status === 'error' ? result.errorMessage : ''}`);
      return jsonToConvex((result as Extract<CallResult, { status: 'success' }>).value);
    };
    const failure = async (kind: CallKind, fn: string, args: Record<string, Value> = {}, who: Caller = caller()) => {
      const result = await call(kind, fn, args, who);
      assert.equal(result.status, 'error', `${fn} fails`);
      return result as Extract<CallResult, { status: 'error' }>;
    };

    try {
      await t.test('queries, mutations and actions by "module:fn", "module" and "dir/file:fn"', async () => {
        const id = await success('mutation', 'messages:send', { author: 'ada', body: 'hello' });
        assert.equal(typeof id, 'string');
        const list = (await success('query', 'messages:list', { author: 'ada' })) as Record<string, Value>[];
        assert.deepEqual(list.map((m) => [m._id, m.author, m.body]), [[id, 'ada', 'hello']]);
        assert.equal(typeof list[0]!._creationTime, 'number');
        assert.equal(await success('query', 'messages'), 'the default export');
        assert.equal(await success('query', 'messages:default'), 'the default export');
        assert.equal(await success('query', 'dir/file:fn'), 'nested module');
        assert.equal(await success('query', 'messages.js:count'), 1, 'a .js module suffix is accepted, as in Convex');
        assert.deepEqual(await success('function', 'messages:count'), 1, '"function" runs whatever kind it is');
      });

      await t.test('a missing function and a bad name are refused with Convex messages', async () => {
        assert.match((await failure('query', 'messages:nope')).errorMessage, /^Could not find public function for 'messages:nope'/);
        assert.match((await failure('query', 'nowhere:fn')).errorMessage, /^Could not find public function for 'nowhere:fn'/);
        assert.match((await failure('query', 'messages.ts:list')).errorMessage, /extension that isn't 'js'/);
      });

      await t.test('internal functions are refused to a public caller and run for an internal one', async () => {
        for (const [kind, fn] of [['query', 'messages:secret'], ['mutation', 'messages:secretWrite'], ['action', 'messages:secretAction']] as const) {
          const refused = await failure(kind, fn, {}, caller({ internal: false }));
          assert.match(refused.errorMessage, new RegExp(`^Could not find public function for '${fn}'`));
          assert.equal(refused.errorData, undefined);
        }
        assert.equal(await success('query', 'messages:secret', {}, caller({ internal: true })), 'internal query result');
        assert.equal(typeof (await success('mutation', 'messages:secretWrite', {}, caller({ internal: true }))), 'string');
        assert.equal(await success('action', 'messages:secretAction', {}, caller({ internal: true })), 'internal action result');
        // Functions may call internal functions on behalf of a public caller.
        assert.deepEqual(await success('action', 'actions:internalOnes', {}, caller({ internal: false })), { query: 'internal query result', action: 'internal action result' });
      });

      await t.test('a function called as the wrong kind is refused', async () => {
        assert.match((await failure('mutation', 'messages:list', { author: 'ada' })).errorMessage, /Trying to execute messages:list as Mutation, but it is defined as Query/);
        assert.match((await failure('query', 'messages:send', { author: 'a', body: 'b' })).errorMessage, /as Query, but it is defined as Mutation/);
        assert.match((await failure('action', 'messages:count')).errorMessage, /as Action, but it is defined as Query/);
        assert.match((await failure('query', 'actions:sendAndCount', { author: 'x' })).errorMessage, /as Query, but it is defined as Action/);
      });

      await t.test('arguments are validated before the handler runs, naming the field', async () => {
        const before = await success('query', 'messages:count');
        const wrongType = await failure('mutation', 'messages:send', { author: 12, body: 'x' });
        assert.match(wrongType.errorMessage, /^ArgumentValidationError/);
        assert.match(wrongType.errorMessage, /author/);
        const missing = await failure('mutation', 'messages:send', { author: 'ada' });
        assert.match(missing.errorMessage, /body/);
        const extra = await failure('mutation', 'messages:send', { author: 'ada', body: 'x', sneaky: true });
        assert.match(extra.errorMessage, /sneaky/);
        const nested = await failure('mutation', 'values:typed', { count: 1, data: new ArrayBuffer(1), ratio: 1, nested: { list: [], flag: true } });
        assert.match(nested.errorMessage, /count/, 'a float where an int64 is expected is refused');
        assert.equal(await success('query', 'messages:count'), before, 'nothing ran');
      });

      await t.test('values keep their types across the boundary: bigint, bytes, nested, -0, NaN, Infinity', async () => {
        const bytes = new Uint8Array([1, 2, 3, 0, 255]).buffer;
        const result = (await success('mutation', 'values:typed', { count: 2n ** 53n + 1n, data: bytes, ratio: 0.5, nested: { list: [-(2n ** 63n), 'two'], flag: false } })) as Record<string, any>;
        assert.equal(result.countType, 'bigint');
        assert.equal(result.dataIsBytes, true);
        assert.equal(result.doubled, (2n ** 53n + 1n) * 2n);
        assert.equal(result.firstByte, 1);
        assert.equal(result.echo.count, 2n ** 53n + 1n);
        assert.ok(result.echo.data instanceof ArrayBuffer);
        assert.deepEqual([...new Uint8Array(result.echo.data)], [1, 2, 3, 0, 255]);
        assert.deepEqual(result.echo.nested, { list: [-(2n ** 63n), 'two'], flag: false });

        const specials = (await success('action', 'values:specials')) as Record<string, any>;
        assert.ok(Object.is(specials.negZero, -0), '-0 stays -0');
        assert.ok(Number.isNaN(specials.nan));
        assert.equal(specials.inf, Infinity);
        assert.equal(specials.negInf, -Infinity);
        assert.equal(specials.big, 2n ** 62n);
        assert.deepEqual([...new Uint8Array(specials.bytes)], [0, 255, 7]);

        const value = { a: [1n, -0, NaN, -Infinity, new Uint8Array([9]).buffer, { deep: { deeper: [null, true, 'é😀'] } }] };
        const echoed = (await success('query', 'values:echo', { value })) as any;
        assert.equal(echoed.a[0], 1n);
        assert.ok(Object.is(echoed.a[1], -0));
        assert.ok(Number.isNaN(echoed.a[2]));
        assert.equal(echoed.a[3], -Infinity);
        assert.deepEqual([...new Uint8Array(echoed.a[4])], [9]);
        assert.deepEqual(echoed.a[5], { deep: { deeper: [null, true, 'é😀'] } });
      });

      await t.test('a thrown Error is an error without data; a ConvexError keeps its data, bigints included', async () => {
        const plain = await failure('query', 'errors:plain');
        assert.match(plain.errorMessage, /plain failure/);
        assert.equal(plain.errorData, undefined);

        const withData = await failure('mutation', 'errors:withData');
        assert.notEqual(withData.errorData, undefined);
        assert.deepEqual(jsonToConvex(withData.errorData!), { code: 'NOT_ALLOWED', amount: 2n ** 40n, nested: { list: [1n, 'x', null] } });

        const stringData = await failure('action', 'errors:stringData');
        assert.equal(jsonToConvex(stringData.errorData!), 'just a message');
        assert.match(stringData.errorMessage, /just a message/);

        // Inside a function, a callee's ConvexError is rethrown as a ConvexError with the same data.
        assert.deepEqual(await success('action', 'actions:caught'), { name: 'ConvexError', data: { code: 'NOT_ALLOWED', amount: 2n ** 40n, nested: { list: [1n, 'x', null] } } });
      });

      await t.test('a mutation whose result fails its returns validator, or cannot be encoded, commits nothing', async () => {
        const bad = await failure('mutation', 'returns:badReturn', { tag: 'bad-return' });
        assert.match(bad.errorMessage, /ReturnsValidationError/);
        assert.deepEqual(await success('query', 'messages:list', { author: 'bad-return' }), []);
        const unencodable = await failure('mutation', 'returns:unencodable', { tag: 'unencodable' });
        assert.match(unencodable.errorMessage, /Map/);
        assert.deepEqual(await success('query', 'messages:list', { author: 'unencodable' }), []);
        assert.equal(await success('mutation', 'returns:nestedBadReturn', { tag: 'nested-return' }), null);
        const nested = (await success('query', 'messages:list', { author: 'nested-return' })) as Record<string, Value>[];
        assert.deepEqual(nested.map((m) => m.body), ['outer']);
        assert.deepEqual(await success('query', 'returns:goodReturn'), { n: 1n });
      });

      await t.test('actions call queries and mutations through ctx.runQuery and ctx.runMutation', async () => {
        const before = (await success('query', 'messages:count')) as number;
        const result = (await success('action', 'actions:sendAndCount', { author: 'action-author' })) as Record<string, any>;
        assert.equal(typeof result.id, 'string');
        assert.deepEqual(result.mine, ['from an action']);
        assert.equal(result.total, before + 1);
        const list = (await success('query', 'messages:list', { author: 'action-author' })) as Record<string, Value>[];
        assert.deepEqual(list.map((m) => m._id), [result.id], 'the mutation the action ran committed');
      });

      await t.test("the caller's identity reaches ctx.auth.getUserIdentity() in every kind of function", async () => {
        const who = caller({ identity: fixedIdentity(IDENTITY) });
        assert.deepEqual(await success('query', 'auth:whoami', {}, who), IDENTITY);
        assert.deepEqual(await success('mutation', 'auth:whoamiMutation', {}, who), IDENTITY);
        assert.deepEqual(await success('action', 'auth:whoamiAction', {}, who), { direct: IDENTITY, viaQuery: IDENTITY });
        assert.equal(await success('query', 'auth:whoami'), null, 'no identity: null');
      });

      await t.test('an identity that failed verification throws inside the function', async () => {
        const failing: IdentitySource = { get: () => Promise.reject(new AuthError('Unauthenticated', 'the token expired at noon')) };
        const who = caller({ identity: failing });
        assert.deepEqual(await success('query', 'auth:whoamiOrError', {}, who), { error: 'the token expired at noon' });
        const uncaught = await failure('query', 'auth:whoami', {}, who);
        assert.match(uncaught.errorMessage, /the token expired at noon/);
      });

      await t.test('console output inside a function comes back as logLines', async () => {
        const result = await call('query', 'logs:chatty');
        assert.equal(result.status, 'success');
        assert.deepEqual(result.logLines, ["[LOG] 'hello' { a: 1 }", "[WARN] 'careful'"]);
        const action = await call('action', 'logs:chattyAction');
        assert.deepEqual(action.logLines, ["[INFO] 'from an action'", "[ERROR] 'oops'"]);
        const quiet = await call('query', 'messages:count');
        assert.deepEqual(quiet.logLines, []);
      });
    } finally {
      await harness.close();
    }
  });
}
