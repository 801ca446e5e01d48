import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Starts test/proxy/upstream-server.mjs as a separate process on loopback.

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'upstream-server.mjs');

export interface UpstreamProcess {
  port: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function startUpstream(name: string, port = 0): Promise<UpstreamProcess> {
  const child = spawn(process.execPath, [SCRIPT, String(port), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /listening (\d+)/.exec(out);
      if (!match) return;
      const listening = Number(match[1]);
      resolve({
        port: listening,
        url: `http://127.0.0.1:${listening}`,
        child,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGKILL');
          }),
      });
    });
    child.once('exit', (code) => reject(new Error(`upstream ${name} exited (${code}) before listening`)));
  });
}
