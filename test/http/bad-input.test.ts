import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { makeProject, removeProject, routesYaml } from '../helpers/project.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { parseHead, StepSocket } from '../helpers/socket.js';

// What a client gets for input the gateway cannot use: bodies that are not
// JSON, methods nobody routes (or nobody can parse), malformed header lines,
// oversized header sections, garbage request lines and request targets.
// Each gets a clear status and JSON `code`, and the gateway keeps serving.

const functions = {
  'functions/bad.ts': `
import { httpAction, query } from 'portico';

// Calls request.json() and lets a parse error escape.
export const parseJson = httpAction(async (_ctx, request) => Response.json({ got: await request.json() }));

// Calls request.json() and answers a parse error itself.
export const parseJsonChecked = httpAction(async (_ctx, request) => {
  try {
    return Response.json({ got: await request.json() });
  } catch (error) {
    return Response.json({ code: 'BadJson', message: (error as Error).message }, { status: 400 });
  }
});

export const echo = httpAction(async (_ctx, request) =>
  Response.json({ method: request.method, url: request.url, length: request.body ? (await request.arrayBuffer()).byteLength : null }));

export const hello = query({ args: {}, handler: async () => 'hello' });
`,
};

const routes = `
  - { path: /json, method: POST, handler: "bad:parseJson" }
  - { path: /json-checked, method: POST, handler: "bad:parseJsonChecked" }
  - { path: /echo, method: [GET, POST], handler: "bad:echo" }
  - { path: /users/:id, method: GET, handler: "bad:echo" }
`;

/** Sends `bytes` on a fresh connection and reads one answer (until its body is complete or the server closes). */
async function exchange(port: number, bytes: string): Promise<{ status: number; statusText: string; headers: Record<string, string>; body: string; json: any; closed: boolean }> {
  const socket = await StepSocket.connect(port);
  await socket.write(bytes).catch(() => {});
  const text = await socket.waitFor((received) => {
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) return socket.socket.destroyed;
    const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, end));
    if (length === null) return received.endsWith('\r\n0\r\n\r\n');
    return received.length - end - 4 >= Number(length[1]);
  });
  // Did the server close the connection after answering?
  const closed = await Promise.race([socket.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300))]);
  socket.destroy();
  const head = parseHead(text);
  let json: any = null;
  try {
    json = JSON.parse(head.rest);
  } catch {
    // Not JSON; the test says what it expects.
  }
  return { status: head.status, statusText: head.statusText, headers: head.headers, body: head.rest, json, closed };
}

describe('bad input', () => {
  let dir: string;
  let gateway: RunningGateway;
  before(async () => {
    dir = await makeProject({ 'routes.yaml': routesYaml(routes), ...functions });
    gateway = await startGateway(dir);
  });
  after(async () => {
    await gateway?.stop();
    await removeProject(dir);
  });

  /** The gateway still answers an ordinary request, on a new connection. */
  const stillServing = async () => {
    const response = await fetch(`${gateway.url}/echo`);
    assert.equal(response.status, 200, 'the gateway still serves');
    assert.equal((await response.json()).method, 'GET');
    assert.equal(gateway.child.exitCode, null, 'the gateway process is alive');
  };

  describe('bodies that are not JSON', () => {
    test('malformed JSON to a handler whose request.json() throws: 500 with the SyntaxError in the code', async () => {
      const response = await fetch(`${gateway.url}/json`, { method: 'POST', body: '{"a": 1,,}', headers: { 'content-type': 'application/json' } });
      assert.equal(response.status, 500);
      const id = response.headers.get('x-request-id')!;
      const body = await response.json();
      assert.match(body.code, new RegExp(`^\\[Request ID: ${id}\\] Server Error: Uncaught SyntaxError: .*JSON`));
      assert.match(body.trace, /^Uncaught SyntaxError/);
      await stillServing();
    });

    test('an empty body to request.json(): 500 with a SyntaxError', async () => {
      const response = await fetch(`${gateway.url}/json`, { method: 'POST', body: '' });
      assert.equal(response.status, 500);
      assert.match((await response.json()).code, /Server Error: Uncaught SyntaxError: /);
    });

    test('malformed JSON to a handler that catches the error: whatever the handler answers (here 400 BadJson)', async () => {
      const response = await fetch(`${gateway.url}/json-checked`, { method: 'POST', body: 'not json at all' });
      assert.equal(response.status, 400);
      const body = await response.json();
      assert.equal(body.code, 'BadJson');
      assert.match(body.message, /JSON/);
    });

    test('well-formed JSON reaches the handler parsed', async () => {
      const response = await fetch(`${gateway.url}/json`, { method: 'POST', body: '{"a":[1,"b"]}' });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { got: { a: [1, 'b'] } });
    });

    test('malformed JSON to the function API: 400 BadJsonBody', async () => {
      const response = await fetch(`${gateway.url}/api/query`, { method: 'POST', body: '{"path": "bad:hello", ', headers: { 'content-type': 'application/json' } });
      assert.equal(response.status, 400);
      assert.equal((await response.json()).code, 'BadJsonBody');
      const wrongType = await fetch(`${gateway.url}/api/query`, { method: 'POST', body: '{"path":"bad:hello","args":{}}', headers: { 'content-type': 'text/plain' } });
      assert.equal(wrongType.status, 400);
      assert.equal((await wrongType.json()).code, 'BadJsonBody');
      const good = await fetch(`${gateway.url}/api/query`, { method: 'POST', body: '{"path":"bad:hello","args":{}}', headers: { 'content-type': 'application/json' } });
      assert.deepEqual(await good.json(), { status: 'success', value: 'hello' });
    });
  });

  describe('methods', () => {
    test('TRACE on a routed path: 405 MethodNotAllowed with Allow', async () => {
      const answer = await exchange(gateway.port, 'TRACE /echo HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(answer.status, 405);
      assert.equal(answer.json.code, 'MethodNotAllowed');
      assert.equal(answer.headers.allow, 'GET, HEAD, POST');
      assert.ok(answer.headers['x-request-id']);
    });

    test('TRACE on an unknown path: 404', async () => {
      const answer = await exchange(gateway.port, 'TRACE /nowhere HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(answer.status, 404);
      assert.equal(answer.body, 'No matching routes found');
    });

    test('a method Node parses but no route declares (PROPFIND): 405 with Allow', async () => {
      const answer = await exchange(gateway.port, 'PROPFIND /users/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
      assert.equal(answer.status, 405);
      assert.equal(answer.json.code, 'MethodNotAllowed');
      assert.equal(answer.headers.allow, 'GET, HEAD');
    });

    test('a made-up method token (FOO): 501 NotImplemented with a request id, connection closed', async () => {
      const answer = await exchange(gateway.port, 'FOO /echo HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(answer.status, 501);
      assert.equal(answer.json.code, 'NotImplemented');
      assert.match(answer.json.message, /Unknown request method/);
      assert.ok(answer.headers['x-request-id']);
      assert.equal(answer.closed, true);
      await stillServing();
    });

    test('CONNECT: 405 MethodNotAllowed with Allow and a request id, connection closed', async () => {
      const answer = await exchange(gateway.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      assert.equal(answer.status, 405);
      assert.equal(answer.json.code, 'MethodNotAllowed');
      assert.match(answer.headers.allow!, /GET/);
      assert.ok(answer.headers['x-request-id']);
      assert.equal(answer.closed, true);
      await stillServing();
    });
  });

  describe('headers', () => {
    for (const [name, line] of [
      ['a line without a colon', 'Bad Header Line'],
      ['a space inside a header name', 'X-Bad Name: 1'],
      ['an obsolete folded continuation line', 'X-A: 1\r\n  folded'],
      ['an empty header name', ': value'],
    ] as const) {
      test(`${name}: 400 BadRequest with a request id, connection closed`, async () => {
        const answer = await exchange(gateway.port, `GET /echo HTTP/1.1\r\nHost: x\r\n${line}\r\n\r\n`);
        assert.equal(answer.status, 400);
        assert.equal(answer.json.code, 'BadRequest');
        assert.ok(answer.headers['x-request-id'], 'even a request Node could not parse gets an id');
        assert.equal(answer.closed, true);
        await stillServing();
      });
    }

    for (const host of ['a b', 'evil.test/path?', 'user@host.test', 'host.test:80x', 'a%20b.test', 'x.test#frag']) {
      test(`a Host header that is not host[:port] (${JSON.stringify(host)}): 400 BadRequest, the handler never sees it`, async () => {
        const answer = await exchange(gateway.port, `GET /echo HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        assert.equal(answer.status, 400);
        assert.equal(answer.json.code, 'BadRequest');
        assert.match(answer.json.message, /Host/);
        assert.ok(answer.headers['x-request-id']);
      });
    }

    test('well-formed Host values reach the handler in request.url', async () => {
      for (const host of ['api.example.test', 'api.example.test:8443', '127.0.0.1:80', '[::1]:3000', 'xn--bcher-kva.example']) {
        const answer = await exchange(gateway.port, `GET /echo HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        assert.equal(answer.status, 200, host);
        assert.equal(answer.json.url, `http://${host}/echo`);
        assert.doesNotThrow(() => new URL(answer.json.url));
      }
      const empty = await exchange(gateway.port, 'GET /echo HTTP/1.1\r\nHost: \r\n\r\n');
      assert.equal(empty.status, 200, 'an empty Host is allowed');
      assert.equal(empty.json.url, 'http://localhost/echo');
    });

    test('HTTP/1.1 without Host: 400 BadRequest with a request id, connection closed; HTTP/1.0 without Host is served', async () => {
      const answer = await exchange(gateway.port, 'GET /echo HTTP/1.1\r\n\r\n');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.code, 'BadRequest');
      assert.match(answer.json.message, /Host/);
      assert.ok(answer.headers['x-request-id']);
      assert.equal(answer.closed, true);
      const old = await exchange(gateway.port, 'GET /echo HTTP/1.0\r\n\r\n');
      assert.equal(old.status, 200);
    });

    test('a header section over the size limit: 431 HeadersTooLarge', async () => {
      const answer = await exchange(gateway.port, `GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.equal(answer.status, 431);
      assert.equal(answer.json.code, 'HeadersTooLarge');
      assert.equal(answer.closed, true);
      await stillServing();
    });

    test('many small headers over the size limit: 431 HeadersTooLarge', async () => {
      const headers = Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}`).join('\r\n');
      const answer = await exchange(gateway.port, `GET /echo HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\n`);
      assert.equal(answer.status, 431);
      assert.equal(answer.json.code, 'HeadersTooLarge');
    });

    test('a non-numeric Content-Length: 400 BadRequest', async () => {
      const answer = await exchange(gateway.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.code, 'BadRequest');
    });

    test('two different Content-Length headers: 400 BadRequest', async () => {
      const answer = await exchange(gateway.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.code, 'BadRequest');
    });

    test('Content-Length together with Transfer-Encoding: chunked (request smuggling): 400 BadRequest', async () => {
      const answer = await exchange(gateway.port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.code, 'BadRequest');
      await stillServing();
    });

    test('a malformed chunk size in the body a handler is reading: 400 BadRequest, no 500', async () => {
      const socket = await StepSocket.connect(gateway.port);
      await socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // The handler is now waiting for the rest of the body.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await socket.write('ZZ\r\nmore\r\n').catch(() => {});
      const { text } = await socket.untilClosed();
      const head = parseHead(text);
      assert.equal(head.status, 400);
      assert.equal(JSON.parse(head.rest).code, 'BadRequest');
      assert.doesNotMatch(text, /HTTP\/1\.1 500/);
      await stillServing();
    });
  });

  describe('request lines and targets', () => {
    for (const [name, line] of [
      ['a garbage request line', 'GARBAGE'],
      ['a space inside the path', 'GET /ec ho HTTP/1.1'],
      ['an unknown HTTP version', 'GET /echo HTTP/9.9'],
      ['a target that is not a path', 'GET foo HTTP/1.1'],
      ['an HTTP/2 preface on an HTTP/1.1 port', 'PRI * HTTP/2.0'],
    ] as const) {
      test(`${name}: 400 BadRequest, connection closed`, async () => {
        const answer = await exchange(gateway.port, `${line}\r\nHost: x\r\n\r\n`);
        assert.equal(answer.status, 400);
        assert.equal(answer.json.code, 'BadRequest');
        assert.equal(answer.closed, true);
        await stillServing();
      });
    }

    test('an asterisk target on a method other than OPTIONS: 400 BadRequest', async () => {
      const answer = await exchange(gateway.port, 'GET * HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.code, 'BadRequest');
      assert.ok(answer.headers['x-request-id']);
    });

    test('malformed percent-encoding in a path: 400 BadRequest, not a 404 or a 500', async () => {
      for (const target of ['/users/%E0%A4%A', '/users/%ZZ', '/nowhere/%']) {
        const answer = await exchange(gateway.port, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal(answer.status, 400, target);
        assert.equal(answer.json.code, 'BadRequest', target);
      }
      await stillServing();
    });

    test('malformed percent-encoding in the query string is left to the handler', async () => {
      const answer = await exchange(gateway.port, 'GET /echo?q=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(answer.status, 200);
      assert.equal(answer.json.url, 'http://x/echo?q=%ZZ');
    });

    test('an absolute-form target is routed by its path and request.url takes its authority', async () => {
      const answer = await exchange(gateway.port, 'GET http://api.example.test:8080/users/42?x=1 HTTP/1.1\r\nHost: ignored.test\r\n\r\n');
      assert.equal(answer.status, 200);
      assert.equal(answer.json.url, 'http://api.example.test:8080/users/42?x=1');
      const line = await gateway.waitForLog((l) => l.msg === 'request' && l.reqId === answer.headers['x-request-id']);
      assert.equal(line.path, '/users/42');
      assert.equal(line.route, '/users/:id');
    });

    test('a request line without a version (HTTP/0.9 style) gets an answer and the connection closes, not a hang', async () => {
      const socket = await StepSocket.connect(gateway.port);
      await socket.write('GET /echo\r\n\r\n');
      const { text } = await socket.untilClosed();
      // Either a 400 or an HTTP/1.0-style answer: never a hang.
      assert.match(text, /^HTTP\/1\.[01] \d{3} /);
      await stillServing();
    });
  });
});
