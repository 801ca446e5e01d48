import path from 'node:path';
import type { Logger } from 'pino';
import type { Diagnostic } from '../config/diagnostics.js';
import type { PorticoConfig } from '../config/types.js';
import { formatText } from '../config/diagnostics.js';
import { createLogger, flushLogger } from '../log/logger.js';
import { installConsoleCapture } from '../log/console-capture.js';
import type Koa from 'koa';
import { HttpHost } from './http-host.js';
import { porticoMiddleware } from './koa-middleware.js';
import { checkProject } from './check-project.js';
import { buildGeneration, type BaseUrl, type Generation } from './generation.js';
import { SharedResources } from './resources.js';
import { describeChanges, reloadChanges, type ReloadChanges } from './reload-changes.js';
import { describeBackend, environmentCause, isEnvironmentError, listenFailure, StartupError } from './startup-error.js';
import { activeMetrics, processMetrics } from '../metrics/metrics.js';
import { listenForMetrics } from '../gateway/metrics-endpoint.js';
import type { Server } from 'node:http';
import { hostTls, rotateTls } from './tls.js';
import { JobRunner, runnerOptionsFrom, type JobExecutor } from '../scheduler/runner.js';
import { onJobScheduled } from '../scheduler/wake.js';
import { openJobTables } from '../scheduler/job-table.js';

// A running gateway: start, reload, stop. A reload checks and builds the
// whole next generation off the request path, then swaps one reference; if
// the new config or code is invalid, it is refused loudly (error log lines
// with FILE:LINE:COL) and the current generation keeps serving.

export { StartupError } from './startup-error.js';

/** The project (config or code) is not valid; `diagnostics` say where. */
export class ProjectError extends Error {
  override name = 'ProjectError';
  constructor(readonly diagnostics: Diagnostic[]) {
    super(`the project is not valid (${diagnostics.filter((d) => d.severity === 'error').length} errors)`);
  }
}

export interface StartOptions {
  configFile: string;
  /** Overrides routes.yaml's server.port (and $PORT). */
  port?: number;
  host?: string;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Overrides routes.yaml's logging.format (`--log-format`). */
  logFormat?: 'auto' | 'json' | 'pretty';
}

export type ReloadResult = { ok: true; hash: string; codeHash: string; changed: boolean; changes: ReloadChanges; summary: string } | { ok: false; diagnostics: Diagnostic[] };

export class Runtime {
  private reloading: Promise<ReloadResult> | null = null;
  private listeningUrl: string | null = null;
  /** metrics.listen's own listener, if the config asks for one. */
  private metricsServer: Server | null = null;
  /** Runs scheduled functions with the serving generation's backend (a local one). */
  private readonly jobs: JobRunner;
  private readonly stopWakes: () => void;

  private constructor(
    readonly configFile: string,
    readonly host: HttpHost,
    readonly logger: Logger,
    private readonly resources: SharedResources,
    private generation: Generation,
    private readonly baseUrl: BaseUrl,
    private readonly env: Record<string, string | undefined>,
    private readonly listenOptions: { port: number; host: string },
  ) {
    this.jobs = new JobRunner(() => jobExecutor(this.generation.backend), logger, runnerOptionsFrom(env), () => {
      const crons = this.generation.modules.modules.get('crons');
      return { present: crons !== undefined, exported: crons?.default };
    });
    this.stopWakes = onJobScheduled((time) => this.jobs.wake(time));
    this.jobs.start();
  }

  /** Checks the project and builds the gateway, then listens on its port. */
  static async start(options: StartOptions): Promise<Runtime> {
    const runtime = await Runtime.create(options);
    try {
      await runtime.listen();
    } catch (error) {
      await runtime.resources.close();
      throw error;
    }
    return runtime;
  }

  /**
   * Checks the project and builds the gateway without listening: for
   * `koaMiddleware()`, or `listen()` later. Throws ProjectError with the
   * diagnostics when the config or the code is invalid.
   */
  static async create(options: StartOptions): Promise<Runtime> {
    const configFile = path.resolve(options.configFile);
    const env = options.env ?? process.env;
    const check = await checkProject(configFile, { env });
    if (!check.config || !check.modules) throw new ProjectError(check.diagnostics);
    const config = check.config;

    const logger = options.logger ?? createLogger({ ...config.logging, format: options.logFormat ?? config.logging.format });
    installConsoleCapture(logger);
    for (const warning of check.diagnostics) logger.warn({ rule: warning.rule }, formatText([warning]).split('\n')[0]!);

    const resources = new SharedResources(logger);
    const baseUrl: BaseUrl = { value: config.server.publicUrl ?? '' };
    let generation: Generation;
    try {
      generation = await buildGeneration(config, check.modules, resources, logger, baseUrl);
    } catch (error) {
      await resources.close();
      const refused = environmentCause(error);
      if (refused) throw new StartupError(`cannot start ${describeBackend(config.backend)}: ${refused.message}`, { cause: error });
      throw error;
    }
    // The job tables exist before the first function can schedule into them.
    const executor = jobExecutor(generation.backend);
    if (executor) await openJobTables(executor.store).catch(async (error) => {
      await resources.close();
      throw error;
    });
    let tls;
    try {
      tls = await hostTls(config);
    } catch (error) {
      await resources.close();
      throw error;
    }
    const host = new HttpHost(generation.gateway, logger, tls);
    if (config.metrics) processMetrics().countInFlight(() => host.inFlight.count);
    const listen = { port: options.port ?? config.server.port, host: options.host ?? config.server.host };
    return new Runtime(configFile, host, logger, resources, generation, baseUrl, env, listen);
  }

  /** Listens on the configured (or given) port; resolves with the URL. */
  async listen(): Promise<string> {
    const { port, host } = this.listenOptions;
    const address = await this.host.listen(port, host).catch((error) => {
      throw isEnvironmentError(error) ? listenFailure(error, host, port) : error;
    });
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${this.host.scheme}://${shownHost === '0.0.0.0' || shownHost === '[::]' ? 'localhost' : shownHost}:${address.port}`;
    this.listeningUrl = url;
    const metricsAt = this.config.metrics?.listen;
    if (metricsAt && !this.metricsServer) {
      this.metricsServer = await listenForMetrics(metricsAt).catch((error) => {
        throw isEnvironmentError(error) ? listenFailure(error, metricsAt.host, metricsAt.port) : error;
      });
    }
    if (!this.config.server.publicUrl) this.baseUrl.value = url;
    const { config } = this;
    this.logger.info({ url, config: this.configFile, routes: config.routes.length, backend: this.generation.backend.description, configHash: config.hash, codeHash: this.generation.modules.codeHash }, 'portico listening');
    return url;
  }

  /** The URL it listens on (after listen()). */
  get url(): string {
    if (this.listeningUrl === null) throw new Error('not listening: call listen() first');
    return this.listeningUrl;
  }

  get config() {
    return this.generation.config;
  }

  /** The function modules being served. */
  get modules() {
    return this.generation.modules;
  }

  /**
   * The gateway as a Koa middleware, for an existing Koa app. Storage URLs
   * use server.publicUrl, so set it when embedding.
   */
  koaMiddleware(): Koa.Middleware {
    return porticoMiddleware(this.host, this.host.inFlight);
  }

  /** Re-reads routes.yaml and the function modules; swaps them in when valid. */
  reload(): Promise<ReloadResult> {
    // Reloads do not overlap: a second request waits for the first and then
    // reads the files again, so the last change always wins.
    const attempt = async (): Promise<ReloadResult> => {
      const started = performance.now();
      const check = await checkProject(this.configFile, { env: this.env });
      if (!check.config || !check.modules) {
        for (const line of formatText(check.diagnostics).split('\n')) if (line) this.logger.error({ event: 'reload-refused' }, line);
        this.logger.error({ event: 'reload-refused', configHash: this.generation.config.hash }, 'reload refused: the previous config keeps serving');
        return { ok: false, diagnostics: check.diagnostics };
      }
      let next: Generation;
      try {
        next = await buildGeneration(check.config, check.modules, this.resources, this.logger, this.baseUrl);
      } catch (error) {
        this.logger.error({ event: 'reload-refused', err: error }, `reload refused: ${(error as Error).message}`);
        return { ok: false, diagnostics: [] };
      }
      const previous = this.generation;
      this.generation = next;
      this.host.swap(next.gateway);
      // Calls still running on the previous version finish; its query cache goes now.
      void previous.backend.close();
      const changes = reloadChanges(previous, next);
      const summary = describeChanges(changes);
      const codeHash = next.modules.codeHash ?? '';
      const changed = previous.config.hash !== next.config.hash || previous.modules.codeHash !== codeHash;
      this.resources.retireUnused(next.config, next.config.server.shutdownTimeoutMs);
      if (this.host.scheme === 'https') await rotateTls(this.host, next.config, this.logger);
      for (const setting of notReloadable(previous.config, next.config)) {
        this.logger.warn({ event: 'reload-partial', setting }, `${setting} changed: a reload does not apply it; restart to use the new value`);
      }
      this.logger.info({ event: 'reloaded', configHash: next.config.hash, codeHash, changed, changes, ms: Math.round(performance.now() - started) }, `reloaded: ${summary}`);
      return { ok: true, hash: next.config.hash, codeHash, changed, changes, summary };
    };
    // Whatever goes wrong while reading the new version (a full disk, an
    // unreadable folder) refuses the reload; it never takes down the
    // version that is serving.
    const run = (): Promise<ReloadResult> =>
      attempt().catch((error: unknown) => {
        this.logger.error({ event: 'reload-refused', err: error, configHash: this.generation.config.hash }, `reload refused: ${(error as Error)?.message ?? error}`);
        return { ok: false, diagnostics: [] };
      });
    const result = (this.reloading ?? Promise.resolve()).then(run, run);
    void result.then((outcome) => activeMetrics()?.reload(outcome.ok));
    this.reloading = result;
    return result;
  }

  /** Stops accepting requests, lets those in flight finish, closes connections. */
  async stop(timeoutMs = this.generation.config.server.shutdownTimeoutMs): Promise<boolean> {
    this.logger.info({ inFlight: this.host.inFlight.count }, 'stopping: draining requests in flight');
    const drained = await this.host.stop(timeoutMs);
    this.stopWakes();
    await this.jobs.stop(timeoutMs);
    this.metricsServer?.close();
    await this.resources.close();
    this.logger.info({ drained }, 'stopped');
    flushLogger(this.logger);
    return drained;
  }
}

/** The backend as a runner of scheduled functions, when it runs them here (local). */
function jobExecutor(backend: unknown): JobExecutor | null {
  return typeof (backend as Partial<JobExecutor>).runScheduled === 'function' ? (backend as JobExecutor) : null;
}

/** Settings bound at start (the socket, the logger) that a reload cannot change. */
function notReloadable(previous: PorticoConfig, next: PorticoConfig): string[] {
  const changed: string[] = [];
  if (previous.server.port !== next.server.port) changed.push('server.port');
  if (previous.server.host !== next.server.host) changed.push('server.host');
  // The HTTP server is built once with its connection limits (http-host.ts); trustProxy does reload.
  for (const key of ['headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'maxConnections', 'maxConnectionsPerClient'] as const) {
    if (previous.server[key] !== next.server[key]) changed.push(`server.${key.replace(/Ms$/, '')}`);
  }
  if ((previous.server.tls === null) !== (next.server.tls === null)) changed.push('server.tls');
  else if (previous.server.http2 !== next.server.http2) changed.push('server.http2');
  if (previous.server.tls?.redirectPort !== next.server.tls?.redirectPort) changed.push('server.tls.redirectPort');
  if (previous.logging.level !== next.logging.level || previous.logging.format !== next.logging.format) changed.push('logging');
  return changed;
}
