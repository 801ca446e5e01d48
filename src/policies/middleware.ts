import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Stream } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import Koa from 'koa';
import compose from 'koa-compose';
import type { Logger } from 'pino';
import type { MiddlewareSpec } from '../config/policies.js';
import { GatewayError, type GatewayErrorCode } from '../http/errors.js';

// `middleware:`, Koa as the extension seam. Each module is loaded (a project
// file bundled with esbuild, so TypeScript needs no build step and an edited
// file is a new module at the next reload) and each route's list composed
// with koa-compose once, when the generation is built. Per request a route
// with middleware gets a real Koa ctx (app.createContext); the last `next`
// runs Portico's handler, which sees ctx.state as its own ctx.state. A
// middleware that answers without calling next short-circuits: its ctx.status
// and ctx.body are sent. `ctx.throw(403)` and other errors with a status are
// answered from the error catalogue. Routes without middleware never get here.

type KoaMiddleware = Koa.Middleware;

/** The last step of a chain: Portico's handler, given the Koa ctx.state. */
export type Terminal = (state: Record<string, unknown>) => number | Promise<number>;

export class MiddlewareChain {
  private readonly composed: compose.ComposedMiddleware<Koa.ParameterizedContext>;

  constructor(
    private readonly app: Koa,
    middleware: KoaMiddleware[],
    private readonly logger: Logger,
  ) {
    this.composed = compose(middleware);
  }

  /** Runs the chain; resolves with the status sent, or the catalogue error to answer. */
  async run(req: IncomingMessage, res: ServerResponse, exchange: { requestId: string; headers: string[] }, terminal: Terminal): Promise<number | GatewayError> {
    // The request id and CORS headers go on first, so an answer a middleware makes itself carries them too.
    for (let i = 0; i < exchange.headers.length; i += 2) res.setHeader(exchange.headers[i]!, exchange.headers[i + 1]!);
    const ctx = this.app.createContext(req, res);
    let sent: number | undefined;
    try {
      await this.composed(ctx, async () => {
        ctx.respond = false;
        sent = await terminal(ctx.state);
      });
    } catch (error) {
      if (res.headersSent) {
        this.logger.error({ reqId: exchange.requestId, err: error }, 'middleware failed after the answer began');
        res.destroy();
        return res.statusCode;
      }
      return this.asGatewayError(error, exchange.requestId);
    }
    if (sent !== undefined) return sent;
    return respond(ctx, res);
  }

  private asGatewayError(error: unknown, requestId: string): GatewayError {
    const { status, statusCode, expose, message } = (error ?? {}) as { status?: number; statusCode?: number; expose?: boolean; message?: string };
    const code = BY_STATUS[status ?? statusCode ?? 500];
    if (code === undefined || (status ?? statusCode ?? 500) >= 500) {
      this.logger.error({ reqId: requestId, err: error }, 'middleware failed');
      return new GatewayError('InternalServerError', `Internal error; see the logs for request ${requestId}`);
    }
    return new GatewayError(code, expose && message ? message : undefined);
  }
}

const BY_STATUS: Record<number, GatewayErrorCode> = {
  400: 'BadRequest',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  408: 'RequestTimeout',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
};

/** A middleware's own answer (it did not call next), as Koa would send it. */
function respond(ctx: Koa.ParameterizedContext, res: ServerResponse): number {
  if (res.headersSent || !ctx.writable) return res.statusCode;
  const status = ctx.status;
  res.statusCode = status;
  let body: unknown = ctx.body;
  if (ctx.method === 'HEAD' || status === 204 || status === 304 || body === null || body === undefined) {
    if (body === null || body === undefined) {
      // Koa's answer for nothing set: the status text.
      if (ctx.method !== 'HEAD' && status !== 204 && status !== 304) {
        const text = ctx.message || String(status);
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.setHeader('content-length', Buffer.byteLength(text));
        res.end(text);
        return status;
      }
    }
    res.end();
    return status;
  }
  if (body instanceof Stream) {
    body.pipe(res);
    return status;
  }
  if (typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    res.setHeader('content-length', Buffer.byteLength(body as string));
  }
  res.end(body);
  return status;
}

/** Every middleware a config names, loaded once per generation, and the chains composed from them. */
export class MiddlewareSet {
  private readonly app = new Koa();
  private readonly chains = new Map<string, MiddlewareChain>();

  private constructor(
    private readonly loaded: Map<string, KoaMiddleware>,
    private readonly logger: Logger,
  ) {
    this.app.proxy = false;
  }

  static async load(specs: readonly MiddlewareSpec[], projectDir: string, logger: Logger): Promise<MiddlewareSet> {
    const loaded = new Map<string, KoaMiddleware>();
    const modules = new Map<string, Promise<Record<string, unknown>>>();
    const buildDir = path.join(projectDir, '.portico', 'middleware');
    for (const spec of specs) {
      const key = specKey(spec);
      if (loaded.has(key)) continue;
      const source = spec.file ?? spec.use;
      let module = modules.get(source);
      if (!module) modules.set(source, (module = importModule(spec, buildDir)));
      loaded.set(key, instantiate(spec, await module));
    }
    return new MiddlewareSet(loaded, logger);
  }

  /** The composed chain of one route's list (shared by routes with the same list). */
  chainFor(specs: readonly MiddlewareSpec[]): MiddlewareChain {
    const key = specs.map(specKey).join('\n');
    let chain = this.chains.get(key);
    if (!chain) this.chains.set(key, (chain = new MiddlewareChain(this.app, specs.map((spec) => this.loaded.get(specKey(spec))!), this.logger)));
    return chain;
  }
}

function specKey(spec: MiddlewareSpec): string {
  return JSON.stringify([spec.file ?? spec.use, spec.exportName, spec.options]);
}

/** A project file bundled to a file named by its content (an edit is a new module); a package through a stub inside the project, so it resolves from the project's node_modules. */
async function importModule(spec: MiddlewareSpec, buildDir: string): Promise<Record<string, unknown>> {
  await mkdir(buildDir, { recursive: true });
  let text: string;
  if (spec.file !== null) {
    if (!existsSync(spec.file)) throw new Error(`middleware ${spec.use}: ${spec.file} does not exist`);
    const result = await build({ entryPoints: [spec.file], bundle: true, platform: 'node', format: 'esm', packages: 'external', write: false, logLevel: 'silent', sourcemap: 'inline', absWorkingDir: path.dirname(spec.file) });
    text = result.outputFiles[0]!.text;
    // Relative imports were bundled in; bare ones resolve from the build folder, inside the project.
  } else {
    text = `import * as ns from ${JSON.stringify(spec.use)};\nexport default ns;\n`;
  }
  const file = path.join(buildDir, `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) await writeFile(file, text);
  const ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  return spec.file !== null ? ns : (ns.default as Record<string, unknown>);
}

/**
 * The export as a middleware. A package's export is a factory (koa-helmet(options)),
 * called with `options` (or nothing). A project module's export is the middleware
 * itself, unless `options` are given: then it is a factory called with them.
 */
function instantiate(spec: MiddlewareSpec, ns: Record<string, unknown>): KoaMiddleware {
  let exported = spec.exportName === 'default' ? (ns.default ?? ns) : ns[spec.exportName];
  // A CommonJS package compiled from ESM: module.exports.default is the function.
  if (typeof exported !== 'function' && typeof (exported as { default?: unknown })?.default === 'function') exported = (exported as { default: unknown }).default;
  if (typeof exported !== 'function') throw new Error(`middleware ${spec.use}: ${spec.exportName === 'default' ? 'the default export' : `export ${spec.exportName}`} is not a function`);
  const fn = exported as (...args: unknown[]) => unknown;
  const middleware = spec.options !== undefined || spec.file === null ? fn(spec.options) : fn;
  if (typeof middleware !== 'function') throw new Error(`middleware ${spec.use}: the factory did not return a Koa middleware (a function of ctx and next)`);
  return middleware as KoaMiddleware;
}
