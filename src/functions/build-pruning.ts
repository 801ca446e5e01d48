import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

// Build folders under the project's build root (.portico/build): one per
// load, named `<time>-<pid>-<n>` so that pruning can tell which process made
// it. Builds of this process before the previous one, and builds of
// processes that no longer run, are deleted. The previous build stays:
// requests that started on it may still load a lazily imported chunk.

let loadCounter = 0;
const previousBuild = new Map<string, string>();

/** A fresh build folder's path under `buildRoot`, unique to this process and load. */
export function nextBuildDir(buildRoot: string): string {
  return path.join(buildRoot, `${Date.now().toString(36)}-${process.pid}-${++loadCounter}`);
}

/**
 * Deletes the builds under `buildRoot` that nothing can still use, keeping
 * `current` (a folder name) and this process's build before it. Never
 * throws: a build that cannot be deleted now is tried again next time.
 */
export async function pruneOldBuilds(buildRoot: string, current: string): Promise<void> {
  const keep = new Set([current, previousBuild.get(buildRoot)]);
  previousBuild.set(buildRoot, current);
  let names: string[];
  try {
    names = await readdir(buildRoot);
  } catch {
    return;
  }
  for (const name of names) {
    if (keep.has(name)) continue;
    const pid = Number(name.split('-')[1]);
    if (pid === process.pid || !processAlive(pid)) {
      await rm(path.join(buildRoot, name), { recursive: true, force: true }).catch(() => {});
    }
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
