import { STATUS_CODES, type ServerResponse } from 'node:http';

// Values that reach a response header from outside the gateway's own code: a
// token's claims in a WWW-Authenticate challenge, a client's Origin, a stored
// file's name. Node refuses (ERR_INVALID_CHAR) a value with a control
// character or a character past U+00FF, and a refused head would turn a 401
// into a 500. So such values are encoded where they are put in, and the
// gateway's own answers go through writeHeadSafely, which encodes whatever
// still slipped through instead of failing the answer.

// What Node's writeHead accepts in a value (tab, visible ASCII, obs-text).
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// Token characters (RFC 9110, 5.6.2): what a header name may hold.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Percent-encodes (as UTF-8) every character outside visible ASCII, and `%` itself. */
export function safeHeaderValue(value: string): string {
  return /[^\x20-\x24\x26-\x7e]/.test(value) ? value.replace(/[^\x20-\x24\x26-\x7e]/gu, percentEncode) : value;
}

/**
 * Text for a quoted-string parameter of an auth challenge: RFC 6750 allows
 * %x20-21 / %x23-5B / %x5D-7E in error_description; anything else
 * (quotes, backslashes, non-ASCII from a token's claims) is percent-encoded.
 */
export function challengeText(text: string): string {
  return text.replace(/[^\x20\x21\x23-\x24\x26-\x5b\x5d-\x7e]/gu, percentEncode);
}

function percentEncode(char: string): string {
  let out = '';
  for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * `res.writeHead` for the gateway's own answers: a header value Node would
 * refuse is percent-encoded and a header name it would refuse is dropped,
 * so the answer still goes out whole and with its status. Costs nothing
 * unless writeHead throws.
 */
export function writeHeadSafely(res: ServerResponse, status: number, headers: readonly string[]): void {
  // The reason phrase is always given: Node keeps the one of an earlier
  // writeHead that threw (a handler's status text it refused, or "OK" for a
  // 200 whose headers it refused), and the 500 that follows would say it.
  const reason = STATUS_CODES[status] ?? '';
  // Likewise, a refused writeHead of a 204 or 304 has already marked the
  // response as bodiless, and the 500 after it would go out with a
  // Content-Length and no body. Node decides this again for the new status.
  if (res.req?.method !== 'HEAD') (res as unknown as { _hasBody: boolean })._hasBody = true;
  try {
    res.writeHead(status, reason, headers as string[]);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_INVALID_CHAR' && code !== 'ERR_INVALID_HTTP_TOKEN') throw error;
    res.writeHead(status, reason, cleanHeaders(headers));
  }
}

function cleanHeaders(headers: readonly string[]): string[] {
  const clean: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    const value = String(headers[i + 1]);
    if (!TOKEN.test(name)) continue;
    clean.push(name, INVALID_VALUE.test(value) ? safeHeaderValue(value) : value);
  }
  return clean;
}
