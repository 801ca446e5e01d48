import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { formatText } from '../../config/diagnostics.js';
import { checkProject } from '../../server/check-project.js';
import { ProjectError, Runtime, StartupError } from '../../server/runtime.js';
import { EXIT, UsageError, type Command, type Io } from '../command.js';
import { parseServeOptions, SERVE_OPTIONS, type ServeOptions } from '../serve-options.js';
import { configMissing } from '../config-missing.js';
import { failedSummary } from '../report.js';
import { relayGathers } from '../../metrics/cluster-gather.js';
import { holdWorkerBudgets } from '../../policies/rate-limit-store.js';

// portico serve [FILE] [-c routes.yaml] [--port N] [--host H] [--workers N|auto] [--log-format F]
// Starts the gateway and prints the URL it listens on. SIGTERM/SIGINT stop
// accepting, let requests in flight finish and exit 0; SIGHUP reloads
// routes.yaml and the function modules without dropping a request (a
// server has no terminal to lose; `dev`, which has one, stops instead).
// --workers runs N processes sharing the port (Node's cluster module).

export const serve: Command = {
  name: 'serve',
  summary: 'start the gateway and print the URL it listens on',
  usage: 'portico serve [FILE] [options]',
  options: SERVE_OPTIONS,
  signals: 'SIGTERM and SIGINT stop it after requests in flight finish (up to server.shutdownTimeout); SIGHUP reloads routes.yaml and functions/.',
  async run(argv, io) {
    const options = parseServeOptions(argv, io, serve);
    const workers = parseWorkers(options.workers);
    if (workers > 1 && cluster.isPrimary) return runPrimary(options, workers, io);
    const runtime = await startOrReport(options, io);
    if (!runtime) return EXIT.failed;
    if (cluster.isWorker) process.send?.({ type: 'portico:listening', url: runtime.url });
    else io.err(`Portico listening on ${runtime.url}\n`);
    return serveUntilStopped(runtime, { reloadOnHangup: true });
  },
};

/** Starts a runtime, or prints the project's problems and returns null. */
export async function startOrReport(options: ServeOptions, io: Io): Promise<Runtime | null> {
  const missing = await configMissing(options.configFile, io);
  if (missing) {
    io.err(missing);
    return null;
  }
  try {
    return await Runtime.start({ configFile: options.configFile, port: options.port, host: options.host, env: withPort(io.env, options.port), logFormat: options.logFormat });
  } catch (error) {
    if (error instanceof ProjectError) {
      io.err(`${formatText(error.diagnostics, { cwd: io.cwd, files: [failedSummary(options.configFile, error.diagnostics)] })}\n`);
      io.err('portico: not starting: fix the problems above\n');
      return null;
    }
    if (error instanceof StartupError) {
      io.err(`portico: not starting: ${error.message}\n`);
      return null;
    }
    throw error;
  }
}

/**
 * `--port N` is also `${PORT}` in routes.yaml, so URLs a config builds from
 * it (publicUrl, a provider's JWKS on this server) follow the flag. Port 0
 * (any free port) is not a port anything could be built from.
 */
function withPort(env: Io['env'], port: number | undefined): Io['env'] {
  return port ? { ...env, PORT: String(port) } : env;
}

/** Resolves with the exit code once a stop signal has drained the runtime. */
export function serveUntilStopped(runtime: Runtime, options: { reloadOnHangup: boolean }): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      runtime.logger.info({ signal }, 'stop requested');
      runtime.stop().then(
        (drained) => resolve(drained ? EXIT.ok : EXIT.failed),
        () => resolve(EXIT.failed),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (options.reloadOnHangup) process.on('SIGHUP', () => void runtime.reload());
    else process.on('SIGHUP', () => stop('SIGHUP'));
  });
}

function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return availableParallelism();
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new UsageError(`--workers must be a number from 1 to 256, or auto; got "${value}"`);
  return count;
}

/**
 * The cluster primary: checks the project once (so a bad config fails here,
 * with its messages, not in N workers), forks the workers, restarts one that
 * dies, and passes SIGHUP / SIGTERM on to all of them. A worker that dies
 * before it ever listened (port taken, database down) is not restarted:
 * its replacement would fail the same way, in a loop; everything stops.
 */
async function runPrimary(options: ServeOptions, count: number, io: Io): Promise<number> {
  const configFile = options.configFile;
  const missing = await configMissing(configFile, io);
  if (missing) {
    io.err(missing);
    return EXIT.failed;
  }
  const check = await checkProject(configFile, { env: io.env });
  if (!check.config) {
    io.err(`${formatText(check.diagnostics, { cwd: io.cwd, files: [failedSummary(configFile, check.diagnostics)] })}\nportico: not starting: fix the problems above\n`);
    return EXIT.failed;
  }
  // Metrics and the dashboard's log cover every worker: the primary relays.
  relayGathers();
  // Memory rate limits count in the primary, so the workers share one budget.
  holdWorkerBudgets();
  return new Promise((resolve) => {
    let stopping = false;
    let failed = false;
    let announced = false;
    let started = 0;
    const listening = new WeakSet<Worker>();
    const fork = () => {
      const worker = cluster.fork();
      worker.on('message', (message: { type?: string; url?: string }) => {
        if (message?.type !== 'portico:listening') return;
        listening.add(worker);
        // Announced once every worker listens, so "listening" means at full strength.
        if (!announced && ++started === count) {
          announced = true;
          io.err(`Portico listening on ${message.url} (${count} workers)\n`);
        }
      });
    };

    const stop = () => {
      if (stopping) return;
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
      let remaining = workers.length;
      if (remaining === 0) resolve(failed ? EXIT.failed : EXIT.ok);
      for (const worker of workers) {
        worker.once('exit', (code) => {
          if (code !== 0) failed = true;
          if (--remaining === 0) resolve(failed ? EXIT.failed : EXIT.ok);
        });
        worker.process.kill('SIGTERM');
      }
    };

    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      if (!listening.has(worker)) {
        io.err(`portico: worker ${worker.process.pid} exited (${signal ?? code}) before it could listen; stopping the others\n`);
        failed = true;
        stop();
        return;
      }
      io.err(`portico: worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
      fork();
    });
    process.on('SIGHUP', () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
    });
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    for (let i = 0; i < count; i++) fork();
  });
}
