import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

// What `portico dev` watches: routes.yaml and the .env beside it, and every
// file and folder under the functions folder.
//
// chokidar, not Node's fs.watch: once an editor saves by writing a temporary
// file and renaming it over the original (vim, JetBrains "safe write",
// `git checkout`), Node's recursive fs.watch on Linux keeps watching the
// replaced inode and reports nothing more for that file, so later saves were
// missed. chokidar re-arms its watch on the new file and folds the
// unlink + add of an atomic save into one change.

export interface ProjectWatch {
  /** Starts watching another functions folder (routes.yaml may move it). */
  follow(functionsDir: string): void;
  /** Resolves once both watchers have scanned their folders. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchProject(configFile: string, functionsDir: string, changed: (file: string) => void, onError: (error: Error) => void): ProjectWatch {
  const configDir = path.dirname(configFile);
  const watched = new Set([configFile, path.join(configDir, '.env')]);
  // The config folder is watched one level deep for the two files only: it
  // often holds node_modules and .data, which are none of dev's business.
  const config = watch(configDir, {
    depth: 0,
    ignoreInitial: true,
    ignored: (file) => file !== configDir && !watched.has(file),
  });
  config.on('all', (_event, file) => changed(file));
  config.on('error', (error) => onError(error as Error));

  let functions: FSWatcher | null = null;
  let current = '';
  let functionsReady: Promise<void> = Promise.resolve();
  const follow = (dir: string) => {
    if (dir === current) return;
    const moved = current !== '';
    current = dir;
    void functions?.close();
    functions = watch(dir, { ignoreInitial: true, ignored: (file) => hiddenOrInstalled(dir, file) });
    functions.on('all', (_event, file) => changed(file));
    functions.on('error', (error) => onError(error as Error));
    const watcher = functions;
    functionsReady = new Promise((resolve) => watcher.once('ready', () => resolve()));
    // A file saved in the new folder while its watcher was still scanning is
    // taken as already there (ignoreInitial) and reported by nobody: one more
    // look once the watcher is ready picks it up.
    if (moved) void functionsReady.then(() => functions === watcher && changed(dir));
  };
  follow(functionsDir);

  const configReady = new Promise<void>((resolve) => config.once('ready', () => resolve()));
  return {
    follow,
    get ready() {
      return Promise.all([configReady, functionsReady]).then(() => undefined);
    },
    async close() {
      await Promise.all([config.close(), functions?.close()]);
    },
  };
}

/**
 * Hidden entries (.portico/ holds module builds, .data/ may hold the
 * database, editors' swap files start with a dot) and installed packages
 * are not the project's code.
 */
function hiddenOrInstalled(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  if (relative === '' || relative.startsWith('..')) return false;
  return relative.split(path.sep).some((segment) => segment.startsWith('.') || segment === 'node_modules' || segment.endsWith('~'));
}
