import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { convexToJson as officialToJson, jsonToConvex as officialFromJson, type JSONValue } from 'convex/values';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { fdsSettle, getAndClose, rssMb } from './process-watch.js';
import { fuzz, SEED } from './settings.js';

// Hostile values on the function API: bodies nested 100,000 deep, numbers
// JSON cannot hold, malformed `$integer`/`$bytes`/`$float` encodings,
// reserved and hostile field names, and every kind of value sent to a
// function of every validator kind, in every envelope the API accepts. Each
// gets a 4xx {code, message} or Convex's function-error answer (HTTP 200,
// {"status":"error"}: a refusal, never "Server Error", which would mean the
// input crashed something). What succeeds must echo what the official
// `convex` package decodes from the same JSON.

const KINDS = {
  kString: 'v.string()',
  kNumber: 'v.number()',
  kInt64: 'v.int64()',
  kBoolean: 'v.boolean()',
  kNull: 'v.null()',
  kBytes: 'v.bytes()',
  kId: 'v.id("things")',
  kArray: 'v.array(v.number())',
  kObject: 'v.object({ a: v.string() })',
  kRecord: 'v.record(v.string(), v.number())',
  kUnion: 'v.union(v.string(), v.int64())',
  kLiteral: 'v.literal("lit")',
  kOptional: 'v.optional(v.string())',
  kAny: 'v.any()',
};

const FUNCTIONS = {
  'functions/f.ts': `
import { httpAction, mutation, query, v } from 'portico';
export const echo = httpAction(async () => new Response('ok'));
${Object.entries(KINDS)
  .map(([name, validator]) => `export const ${name} = query({ args: { x: ${validator} }, handler: async (_ctx, { x }) => x ?? null });`)
  .join('\n')}
export const store = mutation({ args: { x: v.any() }, handler: async (ctx, { x }) => ctx.db.insert('things', { x }) });
`,
};

/** JSON text of a hostile value. */
const deep = (levels: number, open: string, close: string) => `${open.repeat(levels)}1${close.repeat(levels)}`;
const hostile: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.integer({ min: 1, max: 300 }).chain((n) => fc.constantFrom(deep(n, '[', ']'), deep(n, '{"a":', '}'))),
  fc.constantFrom(deep(100_000, '[', ']'), deep(20_000, '{"a":', '}'), `${'['.repeat(200_000)}`),
  fc.constantFrom('1e400', '-1e400', '9'.repeat(400), '1e-400', '-0', '0.1e99999', '123456789012345678901234567890', '-9223372036854775809'),
  fc
    .tuple(
      fc.constantFrom('$integer', '$bytes', '$float', '$set', '$map', '$commitTs', '$foo', '$'),
      fc.oneof(fc.string({ maxLength: 16 }), fc.base64String({ maxLength: 16 }), fc.integer(), fc.constant(null), fc.constantFrom('AQAAAAAAAAA=', 'AAAAAAAA8D8=', 'AAAAAAAA+H8=', 'AQAAAAAAAAAA', '!!!!', 'AQ', '____', 'AQAAAAAAAAA')),
    )
    .map(([key, value]) => JSON.stringify({ [key]: value })),
  fc.constantFrom(
    '{"$integer":"AQAAAAAAAAA=","other":1}',
    '{"$x":1}',
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"a\\u0000b":1}',
    `{"${'k'.repeat(1500)}":1}`,
    '{"\u00e9":1}',
    '"\\ud800"',
    '"\\u0000"',
    `"${'s'.repeat(100_000)}"`,
    '[1,2,',
    'undefined',
    'NaN',
  ),
);

const fnName = fc.constantFrom(...Object.keys(KINDS));

interface ApiCall {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  label: string;
}

/** One of the envelopes the API accepts, with the hostile JSON somewhere in it. */
const apiCall: fc.Arbitrary<ApiCall> = fc.tuple(hostile, fnName, fc.nat({ max: 9 })).map(([value, fn, shape]): ApiCall => {
  const label = `${fn}, envelope ${shape}, value ${value.length > 80 ? `${value.slice(0, 80)}… (${value.length} chars)` : value}`;
  switch (shape) {
    case 0:
      return { method: 'POST', path: '/api/query', body: `{"path":"f:${fn}","args":{"x":${value}},"format":"convex_encoded_json"}`, label };
    case 1:
      return { method: 'POST', path: '/api/query', body: `{"path":"f:${fn}","args":[{"x":${value}}],"format":"convex_encoded_json"}`, label };
    case 2:
      return { method: 'POST', path: '/api/query', body: `{"path":"f:${fn}","args":${value}}`, label };
    case 3:
      return { method: 'POST', path: '/api/query', body: `{"path":${value},"args":{}}`, label };
    case 4:
      return { method: 'POST', path: '/api/query', body: `{"path":"f:kAny","args":{"x":1},"format":${value}}`, label };
    case 5:
      return { method: 'POST', path: '/api/mutation', body: `{"path":"f:store","args":{"x":${value}}}`, label };
    case 6:
      return { method: 'POST', path: `/api/run/f/${fn}`, body: `{"args":{"x":${value}},"format":"convex_encoded_json"}`, label };
    case 7:
      return { method: 'POST', path: '/api/query_batch', body: `{"queries":[{"path":"f:${fn}","args":{"x":${value}}},{"path":"f:kAny","args":{}}]}`, label };
    case 8:
      return { method: 'POST', path: '/api/query', body: value, label };
    default:
      return value.length < 4000
        ? { method: 'GET', path: `/api/query?path=f:${fn}&format=convex_encoded_json&args=${encodeURIComponent(`{"x":${value}}`)}`, label }
        : { method: 'POST', path: '/api/action', body: `{"path":"f:${fn}","args":{"x":${value}}}`, label };
  }
});

/** What the official package makes of the same JSON, or undefined when it refuses it. */
function officialEcho(value: string): JSONValue | undefined {
  try {
    return officialToJson(officialFromJson(JSON.parse(value)));
  } catch {
    return undefined;
  }
}

describe('hostile values on the function API, fuzzed', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml('  - { path: /echo, method: GET, handler: "f:echo" }'), ...FUNCTIONS });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  const call = (c: ApiCall) => getAndClose(gateway.port, c.path, c.body === undefined ? {} : { 'Content-Type': 'application/json' }, c.body);

  test(`every hostile value gets a 4xx or a function error, never a server error; the gateway gives back what it held (seed ${SEED})`, async () => {
    const pid = gateway.child.pid!;
    for (let i = 0; i < 30; i++) {
      await call({ method: 'POST', path: '/api/query', body: '{"path":"f:kAny","args":{"x":[1,{"a":"b"}]}}', label: 'warm-up' });
      await call({ method: 'POST', path: '/api/mutation', body: '{"path":"f:store","args":{"x":1}}', label: 'warm-up' });
    }
    const fdBaseline = await fdsSettle(pid, Infinity);
    const rssBaseline = rssMb(pid);
    const logsBefore = gateway.logs().length;

    await fuzz(
      fc.asyncProperty(apiCall, async (c) => {
        const answer = await call(c);
        const context = `${c.method} ${c.path.slice(0, 200)}: ${c.label}\nanswer ${answer.status}: ${answer.body.slice(0, 500)}`;
        assert.ok(answer.status === 200 || (answer.status >= 400 && answer.status < 500), context);
        const body = JSON.parse(answer.body);
        if (answer.status !== 200) {
          assert.equal(typeof body.code, 'string', context);
          assert.equal(typeof body.message, 'string', context);
          return;
        }
        const results = c.path === '/api/query_batch' ? body.results : [body];
        for (const result of results) {
          assert.ok(result.status === 'success' || result.status === 'error', context);
          if (result.status === 'error') assert.doesNotMatch(result.errorMessage, /Server Error|Uncaught/, context);
        }
        // An echo that succeeded holds what the official package decodes from the same JSON.
        const value = /"args":\{"x":(.*)\},"format":"convex_encoded_json"\}$/s.exec(c.body ?? '')?.[1];
        if (value !== undefined && c.path === '/api/query' && body.status === 'success' && /f:kAny"/.test(c.body!)) {
          assert.deepEqual(body.value, officialEcho(value), `differs from the convex package: ${context}`);
        }
      }),
      300,
    );

    const faults = gateway.logs().slice(logsBefore).filter((line) => line.level >= 50);
    assert.deepEqual(faults.map((line) => line.msg), [], `internal errors logged: ${JSON.stringify(faults.slice(0, 3)).slice(0, 2000)}`);
    const fds = await fdsSettle(pid, fdBaseline);
    assert.ok(fds <= fdBaseline, `open descriptors: ${fds} after the fuzz, ${fdBaseline} before`);
    const rss = rssMb(pid);
    assert.ok(rss < rssBaseline + 64, `resident memory grew from ${rssBaseline.toFixed(1)} MB to ${rss.toFixed(1)} MB`);
  });

  // Regression: jsonToConvex recursed once per level, so a body of 100,000
  // nested arrays overflowed the stack and came back as a "Server Error"
  // (an uncaught RangeError) instead of a refusal.
  test('a body nested 100,000 deep: 400 BadJsonBody before it is parsed', async () => {
    const answer = await call({ method: 'POST', path: '/api/query', body: `{"path":"f:kAny","args":{"x":${deep(100_000, '[', ']')}}}`, label: '' });
    assert.equal(answer.status, 400);
    assert.deepEqual(JSON.parse(answer.body), { code: 'BadJsonBody', message: 'The request body nests arrays and objects more than 128 levels deep' });
  });

  test("a value nested past Convex's 64 levels: Convex's TooNested function error; 64 levels pass", async () => {
    const over = await call({ method: 'POST', path: '/api/query', body: `{"path":"f:kAny","args":{"x":${deep(64, '[', ']')}}}`, label: '' });
    assert.deepEqual(JSON.parse(over.body), { status: 'error', errorMessage: 'Invalid arguments for f:kAny: Value is too nested (nested 65 levels deep > maximum nesting 64)' });
    const at = await call({ method: 'POST', path: '/api/query', body: `{"path":"f:kAny","args":{"x":${deep(63, '[', ']')}}}`, label: '' });
    assert.equal(JSON.parse(at.body).status, 'success');
  });

  // Regression: under v.any() nothing checked the encoding before decoding,
  // so a malformed `$integer` or a `$float` holding an ordinary number threw
  // inside the call and answered "[Request ID: …] Server Error / Uncaught
  // Error", as if the server had failed.
  test('a malformed $integer, $bytes or $float under v.any(): a function error naming the bad field, not a Server Error', async () => {
    for (const [value, message] of [
      ['{"$integer":"AAA"}', 'Invalid arguments for f:kAny: Malformed $integer field on {"$integer":"AAA"}: "AAA" is not base64'],
      ['{"$bytes":5}', 'Invalid arguments for f:kAny: Malformed $bytes field on {"$bytes":5}: expected a base64 string'],
      ['{"$float":"AAAAAAAA8D8="}', 'Invalid arguments for f:kAny: Float 1 should be encoded as a number'],
    ]) {
      const answer = await call({ method: 'POST', path: '/api/query', body: `{"path":"f:kAny","args":{"x":${value}}}`, label: '' });
      assert.equal(answer.status, 200, value);
      assert.deepEqual(JSON.parse(answer.body), { status: 'error', errorMessage: message });
    }
  });

  // Regression: the body was decoded leniently, so each byte that is not
  // UTF-8 reached the function as U+FFFD: a string other than the one sent.
  test('a body that is not valid UTF-8: 400 BadJsonBody, not a silently altered string', async () => {
    const body = Buffer.concat([Buffer.from('{"path":"f:kAny","args":{"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: gateway.port });
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(`POST /api/query HTTP/1.1\r\nHost: h.test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      socket.write(body);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.deepEqual(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)), { code: 'BadJsonBody', message: 'The request body is not valid UTF-8' });
  });

  // Regression: decoding assigned fields with `out[key] = value`, so a field
  // named __proto__ replaced the decoded object's prototype: the field
  // vanished and its contents showed through every property lookup.
  test('a field named __proto__ stays a field, stored and read back as sent', async () => {
    const echoed = await call({ method: 'POST', path: '/api/query', body: '{"path":"f:kAny","args":{"x":{"__proto__":{"polluted":true}}}}', label: '' });
    assert.deepEqual(JSON.parse(echoed.body), { status: 'success', value: { ['__proto__']: { polluted: true } } });
    assert.match(echoed.body, /"value":\{"__proto__":\{"polluted":true\}\}/);
  });
});
