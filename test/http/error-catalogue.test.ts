import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GATEWAY_ERRORS, type GatewayErrorCode } from '../../src/http/errors.js';
import { makeProject, removeProject, ROOT, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { StepSocket } from '../helpers/socket.js';

// Every error answer of the gateway comes from one catalogue
// (src/http/errors.ts): a code, its status, a message. Two checks: the source
// builds no error answer anywhere else (a status of 400 or more written by
// hand, a `code:` literal), and the answers a running gateway gives to bad
// requests of every kind carry a catalogue code with the catalogue's status.

const SRC = path.join(ROOT, 'src');
const CATALOGUE = path.join(SRC, 'http', 'errors.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The code without comments, line numbers kept. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

// An error status written by hand: writeHead(404, ...), writeJson(res, 500, ...),
// res.statusCode = 403, a raw "HTTP/1.1 431" status line; or a {code: 'X'}
// body literal. Statuses and codes come from GATEWAY_ERRORS (or
// HANDLER_FAILURE_STATUS for a handler's own failure) everywhere else.
const HAND_BUILT = [
  /\b(?:writeHead|writeHeadSafely)\(\s*(?:\w+\s*,\s*)?[45]\d\d\b/,
  /\b(?:writeJson|writeText|writeEmpty)\(\s*\w+\s*,\s*[45]\d\d\b/,
  /\bstatusCode\s*=\s*[45]\d\d\b/,
  /HTTP\/1\.[01] [45]\d\d/,
  /\bcode:\s*['"`][A-Z][A-Za-z]+['"`]/,
  /\{\s*\\?"code\\?"\s*:/,
];

function handBuiltErrorAnswers(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    if (file === CATALOGUE) continue;
    withoutComments(readFileSync(file, 'utf8'))
      .split('\n')
      .forEach((line, index) => {
        if (HAND_BUILT.some((pattern) => pattern.test(line))) found.push(`${path.relative(ROOT, file)}:${index + 1}: ${line.trim()}`);
      });
  }
  return found;
}

describe('one error catalogue', () => {
  test('no error answer is built outside src/http/errors.ts', () => {
    assert.deepEqual(handBuiltErrorAnswers(sourceFiles(SRC)), []);
  });

  test('the check sees an error answer built by hand (it can fail)', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join(ROOT, 'test', '.catalogue-'));
    try {
      const samples = [
        "res.writeHead(404, ['content-type', 'text/plain']);",
        "writeJson(res, 500, { code: 'InternalServerError', message: 'x' }, headers);",
        'socket.end(`HTTP/1.1 431 Request Header Fields Too Large\\r\\n`);',
        "return { status: 408, code: 'RequestTimeout' };",
      ];
      const files = await Promise.all(
        samples.map(async (sample, i) => {
          const file = path.join(dir, `sample${i}.ts`);
          await writeFile(file, `// a comment: res.writeHead(500)\n${sample}\n`);
          return file;
        }),
      );
      assert.equal(handBuiltErrorAnswers(files).length, samples.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('every entry has an error status and a message', () => {
    for (const [code, entry] of Object.entries(GATEWAY_ERRORS)) {
      assert.ok(entry.status >= 400 && entry.status <= 599, code);
      assert.ok(entry.message.length > 0, code);
    }
  });
});

describe('error answers of a running gateway', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({
      'routes.yaml': routesYaml(`  - { path: /thing, method: GET, handler: "app:thing" }\n  - { path: /boom, method: GET, handler: "app:boom", responseLimit: 10 }`),
      'functions/app.ts': `import { httpAction } from 'portico';
export const thing = httpAction(async () => new Response('ok'));
export const boom = httpAction(async () => new Response('far more than ten bytes'));
`,
    });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  async function raw(request: string): Promise<{ status: number; type: string; body: string; requestId: string | undefined }> {
    const socket = await StepSocket.connect(gateway.port);
    await socket.write(request);
    await Promise.race([socket.closed, socket.waitFor((text) => /\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text) && text.split('\r\n\r\n')[1]!.length >= Number(/content-length: (\d+)/i.exec(text)![1]))]);
    socket.socket.destroy();
    const text = socket.text();
    const [head, body = ''] = text.split('\r\n\r\n');
    return {
      status: Number(head!.split(' ')[1]),
      type: /content-type: ([^\r]*)/i.exec(head!)?.[1] ?? '',
      body,
      requestId: /x-request-id: ([^\r]*)/i.exec(head!)?.[1],
    };
  }

  const cases: [string, string][] = [
    ['unknown method', 'FOO /thing HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
    ['garbage request line', 'hello\r\n\r\n'],
    ['headers too large', `GET /thing HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['no route', 'GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['wrong method', 'DELETE /thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['bad Host', 'GET /thing HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n'],
    ['unknown ops endpoint', 'GET /_portico/nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
    ['wrong method on health', 'POST /_portico/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'],
    ['function API: unknown endpoint', 'POST /api/nothing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'],
    ['response over the limit', 'GET /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'],
  ];
  for (const [name, request] of cases) {
    test(`${name}: a catalogue code with the catalogue's status and a request id`, async () => {
      const answer = await raw(request);
      assert.ok(answer.requestId, `no x-request-id on ${name}`);
      if (answer.type.startsWith('text/plain')) {
        assert.equal(answer.status, GATEWAY_ERRORS.NoMatchingRoute.status);
        assert.equal(answer.body, GATEWAY_ERRORS.NoMatchingRoute.message);
        return;
      }
      const { code } = JSON.parse(answer.body) as { code: GatewayErrorCode };
      assert.ok(code in GATEWAY_ERRORS, `${code} is not in the catalogue`);
      assert.equal(answer.status, GATEWAY_ERRORS[code].status, `${code}: status ${answer.status}`);
    });
  }
});
