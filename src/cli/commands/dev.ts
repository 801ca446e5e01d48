import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { EXIT, parse, parsePort, type Command } from '../command.js';
import { serveUntilStopped, startOrReport } from './serve.js';

// portico dev [-c routes.yaml] [--port N] [--host H]
// serve, plus a watch on routes.yaml, its .env and the functions folder:
// every change is checked and hot-swapped in (an invalid one is refused and
// the running version keeps serving).

const DEBOUNCE_MS = 100;

export const dev: Command = {
  name: 'dev',
  summary: 'serve, and reload on every change to routes.yaml or functions/',
  usage: 'portico dev [-c routes.yaml] [--port N] [--host H]',
  async run(argv, io) {
    const { values } = parse(argv, {
      config: { type: 'string', short: 'c', default: 'routes.yaml' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
    });
    const configFile = path.resolve(io.cwd, values.config!);
    const runtime = await startOrReport({ configFile, port: parsePort(values.port), host: values.host }, io);
    if (!runtime) return EXIT.failed;
    let timer: NodeJS.Timeout | undefined;
    let functionsWatcher: FSWatcher | null = null;
    let watchedDir = '';
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const result = await runtime.reload();
        io.err(result.ok ? `portico: reloaded (config ${result.hash.slice(0, 12)})\n` : 'portico: change refused, the previous version keeps serving (see the log)\n');
        // routes.yaml may have moved the functions folder.
        if (result.ok) watchFunctions(runtime.config.functionsDir);
      }, DEBOUNCE_MS);
    };
    const watchFunctions = (dir: string) => {
      if (dir === watchedDir) return;
      functionsWatcher?.close();
      functionsWatcher = null;
      watchedDir = dir;
      try {
        functionsWatcher = watch(dir, { recursive: true }, (_event, file) => {
          // Hidden entries (.portico/ holds module builds, .data/ may hold the
          // database) and installed packages are not the project's code.
          if (file && file.split(path.sep).some((segment) => segment.startsWith('.') || segment === 'node_modules')) return;
          changed();
        });
      } catch (error) {
        io.err(`portico: cannot watch ${dir}: ${(error as Error).message}\n`);
      }
    };
    const configDir = path.dirname(configFile);
    const configWatcher = watch(configDir, (_event, file) => {
      if (file === path.basename(configFile) || file === '.env') changed();
    });
    watchFunctions(runtime.config.functionsDir);
    // Announced once the watches are in place, so a change made as soon as
    // the URL is printed is seen. The URL stands alone on the line (followed
    // by a space), so scripts that pick it out take no punctuation with it.
    io.err(`Portico (dev) listening on ${runtime.url} (watching ${path.relative(io.cwd, configFile) || configFile} and ${path.relative(io.cwd, runtime.config.functionsDir) || '.'})\n`);
    const code = await serveUntilStopped(runtime, { reloadOnHangup: true });
    configWatcher.close();
    (functionsWatcher as FSWatcher | null)?.close();
    clearTimeout(timer);
    return code;
  },
};
