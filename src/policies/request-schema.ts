import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { requestSchemaAjv, type RequestSchemas } from '../config/policies.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { IncomingBody } from '../http/request-body.js';
import type { LazyRequest } from '../http/lazy-request.js';

// `request: {body, query, params, headers}` on one route: JSON Schemas
// compiled with ajv once, when the route table is built. Per request the
// body is read (within bodyLimit) and parsed once; the handler's
// request.json() gets that same validated value (defaults applied), and
// ctx.params / ctx.query hold the coerced values.
//   400 {"code":"BadRequest","message":...,"errors":[{"path":"/body/author","message":...}]}
//   415 for a body schema and a body that is not JSON.

export interface RequestIssue {
  path: string;
  message: string;
}

/** What a request that passed its schemas hands the handler. */
export interface CheckedRequest {
  /** The read body, replayable (null without a body schema: the handler reads it as usual). */
  body: IncomingBody | null;
  params: Record<string, string>;
  /** The query string as validated, when the route declares a query schema. */
  query: Record<string, unknown> | undefined;
  /** Makes request.json() answer the validated body without parsing it again. */
  attach(request: LazyRequest): void;
}

const MAX_ISSUES = 20;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export class RequestSchema {
  private readonly body: ValidateFunction | null;
  private readonly query: ValidateFunction | null;
  private readonly params: ValidateFunction | null;
  private readonly headers: ValidateFunction | null;

  constructor(schemas: RequestSchemas) {
    // An ajv each: two parts may use the same schema file, $id and all.
    const compile = (schema: object | null, coerce: boolean) => schema && requestSchemaAjv(coerce).compile(schema);
    this.body = compile(schemas.body, false);
    this.query = compile(schemas.query, true);
    this.params = compile(schemas.params, true);
    this.headers = compile(schemas.headers, true);
  }

  /** Whether the route declares a body schema (and so needs the body read before it goes on). */
  get checksBody(): boolean {
    return this.body !== null;
  }

  /** Resolves with the checked request, or the error to answer (400, 413, 415). */
  async check(req: IncomingMessage, res: ServerResponse, body: IncomingBody | null, params: Record<string, string>): Promise<CheckedRequest | GatewayError> {
    const issues: RequestIssue[] = [];
    let checkedParams = params;
    if (this.params) {
      checkedParams = { ...params };
      validate(this.params, checkedParams, 'params', issues);
    }
    let query: Record<string, unknown> | undefined;
    if (this.query) {
      query = parseQuery(req.url!);
      validate(this.query, query, 'query', issues);
    }
    if (this.headers) validate(this.headers, { ...req.headers }, 'headers', issues);

    let replay: ReplayedBody | null = null;
    if (this.body) {
      const type = req.headers['content-type'];
      const declared = req.headers['content-length'];
      const empty = body === null || (declared === '0' && req.headers['transfer-encoding'] === undefined);
      if (empty && type === undefined) {
        issues.push({ path: '/body', message: 'a JSON body is required' });
      } else if (type === undefined || !JSON_TYPE.test(type)) {
        return new GatewayError('UnsupportedMediaType', `This route takes a JSON body (Content-Type: application/json), not ${type === undefined ? 'a body without a Content-Type' : type.split(';')[0]}`);
      } else {
        let bytes: Buffer;
        try {
          bytes = body === null ? Buffer.alloc(0) : await body.buffer();
        } catch (error) {
          if (isGatewayError(error)) return error;
          throw error;
        }
        let value: unknown;
        try {
          value = JSON.parse(bytes.toString('utf8'));
        } catch (error) {
          return invalid([{ path: '/body', message: `is not valid JSON (${(error as Error).message})` }]);
        }
        validate(this.body, value, 'body', issues);
        replay = new ReplayedBody(req, res, body?.limit ?? 0, bytes, value);
      }
    }
    if (issues.length > 0) return invalid(issues);
    const json = replay;
    return {
      body: json,
      params: checkedParams,
      query,
      attach: (request) => {
        if (json !== null) request.json = () => json.json();
      },
    };
  }
}

function validate(check: ValidateFunction, value: unknown, part: string, issues: RequestIssue[]): void {
  let ok: boolean;
  try {
    ok = check(value) as boolean;
  } catch (error) {
    // Input nested past what validation can walk (a stack overflow): refused, not a crash.
    issues.push({ path: `/${part}`, message: `could not be validated (${(error as Error).message})` });
    return;
  }
  if (ok) return;
  for (const error of check.errors ?? []) {
    if (issues.length >= MAX_ISSUES) return;
    issues.push(issue(part, error));
  }
}

function issue(part: string, error: ErrorObject): RequestIssue {
  let path = `/${part}${error.instancePath}`;
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  if (error.keyword === 'required' && params.missingProperty !== undefined) return { path: `${path}/${escape(params.missingProperty)}`, message: 'is required' };
  if (error.keyword === 'additionalProperties' && params.additionalProperty !== undefined) return { path: `${path}/${escape(params.additionalProperty)}`, message: 'is not allowed here' };
  return { path, message: error.message ?? 'is not valid' };
}

/** JSON Pointer escaping of one property name. */
function escape(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}

function invalid(issues: RequestIssue[]): GatewayError {
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new GatewayError('BadRequest', `The request does not match this route's schema: ${first.path} ${first.message}${more}`).withDetails({ errors: issues });
}

/** The query string as an object; a name given more than once is an array. */
function parseQuery(url: string): Record<string, unknown> {
  const at = url.indexOf('?');
  const query: Record<string, unknown> = {};
  if (at === -1) return query;
  for (const [name, value] of new URLSearchParams(url.slice(at + 1))) {
    const seen = query[name];
    if (seen === undefined) query[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else query[name] = [seen, value];
  }
  return query;
}

/** A body already read for validation, served again from memory to the handler. */
class ReplayedBody extends IncomingBody {
  private read = false;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    limit: number,
    private readonly bytes: Buffer,
    private readonly value: unknown,
  ) {
    super(req, res, limit);
  }

  override get bodyUsed(): boolean {
    return this.read;
  }

  override get fullyRead(): boolean {
    return true;
  }

  async json(): Promise<unknown> {
    this.take();
    return this.value;
  }

  override async buffer(): Promise<Buffer> {
    this.take();
    return this.bytes;
  }

  override stream(): ReadableStream<Uint8Array> {
    this.take();
    const bytes = this.bytes;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
        controller.close();
      },
    });
  }

  private take(): void {
    if (this.read) throw new TypeError('Body is unusable: Body has already been read');
    this.read = true;
  }
}
