// Server processes under test: started pinned to the server core, stopped
// after, with their memory readable from /proc.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpuOf } from './machine.mjs';

/**
 * Starts `node <args>`, waits for "listening on <url>" on stdout or stderr.
 * With `logFile`, stdout (the JSON request log) is that file itself, as in
 * production: relaying the log through a pipe put this process, and its
 * CPU, between the server and the disk (measured: GET hello at 0.51 of bare
 * node:http relayed, 0.68 written straight to the file). The server then
 * announces itself on stderr.
 */
export function startServer(args, { logFile, env = {}, nodeFlags = [], pin = true } = {}) {
  const core = pin ? cpuOf('server') : null;
  const command = core === null ? process.execPath : 'taskset';
  const argv = core === null ? [...nodeFlags, ...args] : ['-c', String(core), process.execPath, ...nodeFlags, ...args];
  const logFd = logFile ? openSync(logFile, 'w') : null;
  const child = spawn(command, argv, { env: { ...process.env, NODE_ENV: 'production', ...env }, stdio: ['ignore', logFd ?? 'pipe', 'pipe'] });
  if (logFd !== null) closeSync(logFd); // the child has its own copy
  let seen = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${args.join(' ')}\n${seen}`)), 60_000);
    const watch = (chunk) => {
      seen += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve({
          url: match[1],
          pid: child.pid,
          child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout?.on('data', (chunk) => {
      if (!seen.includes('listening on')) watch(chunk.toString());
    });
    child.stderr.on('data', (chunk) => watch(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening: ${args.join(' ')}\n${seen}`));
    });
  });
}

/**
 * Resident set size now (VmRSS), its anonymous part (RssAnon: the heaps,
 * without mapped files and shared memory), and its peak since the last
 * resetPeak(), in bytes.
 */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), peak: kib('VmHWM') };
}

/** Resets the kernel's peak-RSS counter of `pid` (Linux: clear_refs 5). */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
