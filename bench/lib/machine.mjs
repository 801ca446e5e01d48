// What the numbers were measured on, and which core runs what.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** With two cores or more: load generator on core 0, servers on core 1. */
export function cpuOf(role) {
  if (os.availableParallelism() < 2 || !hasTaskset()) return null;
  return role === 'load' ? 0 : 1;
}

let taskset;
function hasTaskset() {
  if (taskset === undefined) {
    try {
      execFileSync('taskset', ['-V'], { stdio: 'ignore' });
      taskset = true;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

export function describeMachine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let wrkVersion = 'unknown';
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8' });
  } catch (error) {
    wrkVersion = String(error.stdout ?? '').split('\n')[0].trim() || wrkVersion;
  }
  return {
    cpu: model,
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    wrk: wrkVersion,
    pinning: cpuOf('load') === null ? 'none (taskset or a second core missing)' : 'wrk on core 0, servers on core 1 (taskset)',
  };
}
