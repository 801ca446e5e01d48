// Load generation with wrk (Debian's package), pinned to its own core so it
// does not compete with the server being measured.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuOf } from './machine.mjs';

export function ensureWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return;
  } catch (error) {
    // wrk exits 1 after printing its version; that still means it exists.
    if (error.status === 1) return;
  }
  if (process.getuid?.() !== 0) throw new Error('wrk is not installed: apt-get install wrk');
  console.log('installing wrk (apt-get)...');
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** A wrk Lua script that sends `body` with `method` and JSON content type. */
export function postScript(workDir, name, body, method = 'POST') {
  mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, `${name}.lua`);
  writeFileSync(
    file,
    `wrk.method = "${method}"\nwrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Origin"] = "http://localhost:5173"\n`,
  );
  return file;
}

/**
 * A wrk Lua script that POSTs `template` with `__NONCE__` replaced by a
 * number no other request of this run, nor of an earlier run, sent: the
 * run's start in microseconds, plus one per request (wrk -t1: one Lua
 * state). Every request is then a different query, which no cache can answer.
 */
export function freshNonceScript(workDir, name, template) {
  const [before, after] = template.split('__NONCE__');
  if (after === undefined) throw new Error(`no __NONCE__ in ${template}`);
  mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, `${name}.lua`);
  writeFileSync(
    file,
    `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "http://localhost:5173"
local nonce = os.time() * 1000000
request = function()
  nonce = nonce + 1
  return wrk.format(nil, nil, nil, ${JSON.stringify(before)} .. string.format("%.0f", nonce) .. ${JSON.stringify(after)})
end
`,
  );
  return file;
}

/**
 * Runs wrk against `url` for `seconds` with `connections` and returns
 * requests/s, the share of non-2xx answers and latency percentiles.
 */
export function wrk(url, { seconds, connections = 50, script = null, headers = {} }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  if (script) args.push('-s', script);
  args.push(url);
  const command = cpuOf('load') === null ? ['wrk', args] : ['taskset', ['-c', String(cpuOf('load')), 'wrk', ...args]];
  return new Promise((resolve, reject) => {
    execFile(command[0], command[1], { maxBuffer: 1 << 20 }, (error, stdout) => {
      if (error) return reject(new Error(`wrk failed: ${error.message}\n${stdout}`));
      const number = (pattern) => Number(pattern.exec(stdout)?.[1] ?? NaN);
      const requests = number(/(\d+) requests in/);
      const bad = number(/Non-2xx or 3xx responses: (\d+)/) || 0;
      const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
      resolve({
        rps: number(/Requests\/sec:\s+([\d.]+)/),
        requests,
        non2xx: bad,
        socketErrors: errors ? errors.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0,
        p50: latency(stdout, '50%'),
        p99: latency(stdout, '99%'),
      });
    });
  });
}

function latency(output, percentile) {
  const match = new RegExp(`\\s${percentile.replace('%', '%')}\\s+([\\d.]+)(us|ms|s)`).exec(output);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}
