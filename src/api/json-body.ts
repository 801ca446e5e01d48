import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import { MAX_VALUE_NESTING } from '../values/value.js';

// Request bodies of the function API: JSON only, as in Convex, and small
// (16 MiB of arguments plus envelope).

export const MAX_API_BODY = 16 * 1024 * 1024 + 2000;

/**
 * How deeply a body's arrays and objects may nest. Values stop at
 * MAX_VALUE_NESTING, where the function gets Convex's `Value is too nested`
 * error; the envelope (`{args: [...]}`, a batch's `{queries: [...]}`) adds a
 * few levels. Anything deeper is refused before it is parsed: 16 MiB of `[`
 * would otherwise become a structure that every later walk recurses through.
 */
export const MAX_BODY_NESTING = 2 * MAX_VALUE_NESTING;

export async function readJsonBody(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) {
    throw new GatewayError('BadJsonBody', 'Expected request with `Content-Type: application/json`');
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > MAX_API_BODY) throw GatewayError.payloadTooLarge(MAX_API_BODY);
  const buffer = await new IncomingBody(req, res, MAX_API_BODY).buffer();
  const depth = nestingOf(buffer);
  if (depth > MAX_BODY_NESTING) {
    throw new GatewayError('BadJsonBody', `The request body nests arrays and objects more than ${MAX_BODY_NESTING} levels deep`);
  }
  let text: string;
  try {
    text = UTF8.decode(buffer);
  } catch {
    // Decoding leniently would turn each bad byte into U+FFFD: the function would get other strings than were sent.
    throw new GatewayError('BadJsonBody', 'The request body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GatewayError('BadJsonBody', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_LIST = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_LIST = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The deepest nesting of brackets outside strings, stopping once past the
 * limit. Malformed JSON gets some number; JSON.parse then says what is wrong.
 */
function nestingOf(bytes: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_LIST || byte === OPEN_OBJECT) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > MAX_BODY_NESTING) return deepest;
    } else if (byte === CLOSE_LIST || byte === CLOSE_OBJECT) depth--;
  }
  return deepest;
}
