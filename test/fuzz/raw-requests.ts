import fc from 'fast-check';

// Raw HTTP/1.1 requests, well-formed or broken in the ways clients, proxies
// and attackers break them: request lines, header names and values
// (duplicates, obs-fold, thousands of them, bytes outside ASCII, NUL, bare
// CR), framing (Content-Length and Transfer-Encoding that disagree or lie,
// bad chunk sizes, missing CRLFs, trailers) and endings (the client waits,
// half-closes, or hangs up mid-request).

export interface RawRequest {
  /** Written in order; one write per chunk. */
  chunks: Buffer[];
  /**
   * What the client does after writing: wait for the answer; half-close its
   * side (a truncated stream); or hang up at once.
   */
  then: 'wait' | 'end' | 'destroy';
  /** A one-line summary for failure messages. */
  label: string;
}

const bytes = (text: string) => Buffer.from(text, 'latin1');

const method = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'FOO', 'PROPFIND', 'TRACE', 'CONNECT', 'PRI', '', 'G ET', 'GET\u0000', 'X'.repeat(300), '\u00ff') },
);

const path = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/echo', '/echo?q=1', '/users/42', '/api/query', '/api/run/f/kAny', '/nowhere', '/') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('*', 'http://h.test/echo', '//echo', '/%', '/%zz', '/users/%E0%A4%A', '/echo#frag', 'echo', '/\u0000', '/\u00e9', '/e\u007fcho', '/../../etc/passwd', '/echo?%ZZ'),
  },
  { weight: 1, arbitrary: fc.nat({ max: 20_000 }).map((n) => `/${'a'.repeat(n)}`) },
);

const version = fc.oneof(
  { weight: 8, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 ', 'http/1.1', 'HTTP/1', '', 'HTTP/1.1\u0000') },
);

const headerName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('Host', 'Content-Type', 'Accept', 'Origin', 'Authorization', 'Connection', 'Expect', 'X-Forwarded-Proto', 'Convex-Client', 'X-Custom') },
  { weight: 1, arbitrary: fc.constantFrom('', ' Host', 'Host ', 'X Y', 'X:Y', 'X\u0000', '\u00e9', 'X\u007f', 'X-'.repeat(500)) },
);

const headerValue = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('x', 'h.test', 'application/json', 'text/plain', '*/*', 'close', 'keep-alive', 'https', 'Bearer abc', 'Convex key', 'npm-1.0.0', 'http://o.test') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', ' ', '\u00e9t\u00e9', '\u00c3\u00a9', '\u00ff\u00fe', 'a\u0000b', 'a\rb', 'a\u007fb', '100-continue', 'chunked', 'Bearer \u00e9', '\t'),
  },
  { weight: 1, arbitrary: fc.nat({ max: 40_000 }).map((n) => 'v'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) },
);

/** A header line, sometimes folded onto a continuation line (obs-fold). */
const headerLine = fc.tuple(headerName, headerValue, fc.boolean(), fc.nat({ max: 9 })).map(([name, value, folded, spaces]) =>
  folded && spaces < 2 ? `${name}: ${value}\r\n ${value}` : `${name}:${' '.repeat(spaces % 3)}${value}`,
);

/** How the body is framed, and whether the framing tells the truth. */
const framing = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('length' as const), body: fc.string({ unit: 'binary', maxLength: 200 }), lie: fc.integer({ min: -50, max: 50 }) }),
  fc.record({
    kind: fc.constant('chunked' as const),
    chunks: fc.array(fc.string({ unit: 'binary', maxLength: 60 }), { maxLength: 4 }),
    // How the chunked stream is broken, if at all.
    flaw: fc.constantFrom('none', 'none', 'bad-size', 'huge-size', 'no-crlf', 'no-end', 'extension', 'trailer', 'negative', 'size-lies'),
  }),
  fc.record({ kind: fc.constant('both' as const), body: fc.string({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('two-lengths' as const), a: fc.nat({ max: 20 }), b: fc.nat({ max: 20 }) }),
  fc.record({ kind: fc.constant('bad-length' as const), value: fc.constantFrom('-1', 'abc', '1e3', ' 5', '5 5', '0x10', '99999999999999999999', '') }),
  // Transfer codings a proxy might pass on: some mean chunked, some are unknown, some hide chunked from one parser and not another.
  fc.record({
    kind: fc.constant('coding' as const),
    value: fc.constantFrom('Chunked', 'chunked, gzip', 'gzip, chunked', 'gzip', 'identity', ' chunked', 'chunked\u0000', 'chunked;q=1', 'xchunked'),
    chunks: fc.array(fc.string({ maxLength: 20 }), { maxLength: 2 }),
  }),
);

function chunkedBody(chunks: string[], flaw: string): string {
  let out = '';
  for (const chunk of chunks) {
    const size = Buffer.byteLength(chunk, 'latin1');
    const line = flaw === 'bad-size' ? 'zz' : flaw === 'huge-size' ? 'ffffffffffffffffffff' : flaw === 'negative' ? '-1' : flaw === 'size-lies' ? (size + 3).toString(16) : size.toString(16);
    out += `${line}${flaw === 'extension' ? ';name=value' : ''}\r\n${chunk}${flaw === 'no-crlf' ? '' : '\r\n'}`;
  }
  if (flaw === 'no-end') return out;
  return `${out}0\r\n${flaw === 'trailer' ? 'X-Trailer: t\r\n' : ''}\r\n`;
}

export const rawRequest: fc.Arbitrary<RawRequest> = fc
  .record({
    method,
    path,
    version,
    host: fc.oneof({ weight: 5, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2) }),
    headers: fc.array(headerLine, { maxLength: 6 }),
    many: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }) }),
    framing,
    bareLf: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    then: fc.constantFrom('wait' as const, 'wait' as const, 'wait' as const, 'end' as const, 'destroy' as const),
    split: fc.nat({ max: 3 }),
  })
  .map((r) => {
    const lines = [`${r.method} ${r.path} ${r.version}`.replace(/ +$/, (m) => (r.version === '' ? '' : m))];
    // No Host, one, or two that disagree.
    for (let i = 0; i < r.host; i++) lines.push(`Host: h${i}.test`);
    lines.push(...r.headers);
    for (let i = 0; i < r.many; i++) lines.push(`X-Many-${i}: ${i}`);
    let body = '';
    const f = r.framing;
    if (f.kind === 'length') {
      lines.push(`Content-Length: ${Math.max(0, Buffer.byteLength(f.body, 'latin1') + f.lie)}`);
      body = f.body;
    } else if (f.kind === 'chunked') {
      lines.push('Transfer-Encoding: chunked');
      body = chunkedBody(f.chunks, f.flaw);
    } else if (f.kind === 'both') {
      lines.push(`Content-Length: ${f.body.length}`, 'Transfer-Encoding: chunked');
      body = f.body;
    } else if (f.kind === 'two-lengths') {
      lines.push(`Content-Length: ${f.a}`, `Content-Length: ${f.b}`);
      body = 'x'.repeat(Math.max(f.a, f.b));
    } else if (f.kind === 'bad-length') {
      lines.push(`Content-Length: ${f.value}`);
    } else if (f.kind === 'coding') {
      lines.push(`Transfer-Encoding: ${f.value}`);
      body = chunkedBody(f.chunks, 'none');
    }
    const eol = r.bareLf ? '\n' : '\r\n';
    const whole = bytes(`${lines.join(eol)}${eol}${eol}${body}`);
    // A body that claims more than it holds never ends by itself: the client
    // must end or drop the connection, which is the truncated-stream case.
    const truncated =
      (f.kind === 'length' && f.lie > 0) ||
      (f.kind === 'chunked' && (f.flaw === 'no-end' || f.flaw === 'size-lies')) ||
      // ' 5' is a valid length (whitespace around a value is not part of it) with no body behind it.
      (f.kind === 'bad-length' && /^\s*[1-9]\d*\s*$/.test(f.value));
    const then = truncated && r.then === 'wait' ? 'end' : r.then;
    // Split the bytes into a few writes, so that the parser sees partial input.
    const chunks: Buffer[] = [];
    const step = Math.max(1, Math.ceil(whole.length / (r.split + 1)));
    for (let i = 0; i < whole.length; i += step) chunks.push(whole.subarray(i, i + step));
    const label = `${r.method.slice(0, 20)} ${r.path.slice(0, 40)} ${r.version} +${r.headers.length} headers${r.many ? ` +${r.many} more` : ''}, ${f.kind}${'flaw' in f ? `/${f.flaw}` : ''}${'lie' in f && f.lie ? ` (lies by ${f.lie})` : ''}${r.bareLf ? ', bare LF' : ''}, then ${then}`;
    return { chunks, then, label };
  });
