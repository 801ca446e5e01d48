import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './project.js';

// A real `portico` process, started the way users start it (the built
// binary), on a free port. Tests talk to it over sockets and read its JSON
// log lines from stdout.

export const BIN = path.join(ROOT, 'dist', 'cli', 'bin.js');

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface RunningGateway {
  url: string;
  port: number;
  child: ChildProcess;
  /** JSON log lines written so far. */
  logs(): LogLine[];
  stderr(): string;
  /** Waits until a log line matches, or fails after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` (SIGTERM by default) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Like `exited`, but fails (and kills the process) after `timeoutMs`, with its last output. */
  exitedWithin(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** How long `stop()` waits: the default shutdown timeout (30 s) plus a margin. */
const STOP_DEADLINE_MS = 45_000;

export interface StartOptions {
  command?: 'serve' | 'dev';
  config?: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  port?: number;
  timeoutMs?: number;
}

/** Starts `portico serve` for the project in `dir`; resolves once it listens. */
export function startGateway(dir: string, options: StartOptions = {}): Promise<RunningGateway> {
  const args = [BIN, options.command ?? 'serve', '-c', path.join(dir, options.config ?? 'routes.yaml'), '--port', String(options.port ?? 0), ...(options.args ?? [])];
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'test', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const lines: LogLine[] = [];
  const watchers: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    let newline;
    while ((newline = stdout.indexOf('\n')) !== -1) {
      const text = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      try {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const watcher of [...watchers]) {
          if (watcher.match(line)) {
            watchers.splice(watchers.indexOf(watcher), 1);
            watcher.resolve(line);
          }
        }
      } catch {
        // Not a JSON line (should not happen with format json).
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  // A process that outlives the server's own shutdown timeout (30 s by
  // default) is a hang: fail with what it printed, instead of letting the
  // test file run into its own timeout with nothing to read.
  const exitedWithin = (timeoutMs: number) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`portico (pid ${child.pid}) did not exit within ${timeoutMs} ms\nstderr:\n${stderr.slice(-4000)}\nlast log lines:\n${lines.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      void exited.then((result) => (clearTimeout(timer), done(result)));
    });

  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`portico did not start within ${options.timeoutMs ?? 30_000} ms\nstderr:\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    const onData = () => {
      const match = /listening on (https?:\/\/[^\s]+)/.exec(stderr);
      if (!match) return;
      clearTimeout(timeout);
      child.stderr!.off('data', onData);
      const url = match[1]!;
      let port: number;
      try {
        port = Number(new URL(url).port);
      } catch (error) {
        // Never leave a process behind a failed start.
        child.kill('SIGKILL');
        reject(new Error(`portico printed a URL that does not parse (${url}): ${(error as Error).message}`));
        return;
      }
      resolve({
        url,
        port,
        child,
        logs: () => lines,
        stderr: () => stderr,
        exited,
        waitForLog(match, timeoutMs = 10_000) {
          const found = lines.find(match);
          if (found) return Promise.resolve(found);
          return new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-5).map((l) => JSON.stringify(l)).join('\n')}`)), timeoutMs);
            watchers.push({ match, resolve: (line) => (clearTimeout(timer), done(line)) });
          });
        },
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exitedWithin(STOP_DEADLINE_MS);
        },
        exitedWithin,
      });
    };
    child.stderr!.on('data', onData);
    exited.then(({ code, signal }) => {
      clearTimeout(timeout);
      reject(new Error(`portico exited (${code ?? signal}) before listening\nstderr:\n${stderr}`));
    });
  });
}

/** Runs the portico CLI to completion. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
