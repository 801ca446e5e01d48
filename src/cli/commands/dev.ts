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
    io.err(`Portico (dev) listening on ${runtime.url}; watching ${path.relative(io.cwd, configFile) || configFile} and ${path.relative(io.cwd, runtime.config.functionsDir) || '.'}\n`);

    let timer: NodeJS.Timeout | undefined;
    const changed = (file: string | null) => {
      // Module builds land in .portico/; they are output, not input.
      if (file && file.split(path.sep).includes('.portico')) return;
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const result = await runtime.reload();
        io.err(result.ok ? `portico: reloaded (config ${result.hash.slice(0, 12)})\n` : 'portico: change refused, the previous version keeps serving (see the log)\n');
      }, DEBOUNCE_MS);
    };
    const watchers: FSWatcher[] = [];
    const configDir = path.dirname(configFile);
    watchers.push(watch(configDir, (_event, file) => {
      if (file === path.basename(configFile) || file === '.env') changed(file);
    }));
    try {
      watchers.push(watch(runtime.config.functionsDir, { recursive: true }, (_event, file) => changed(file)));
    } catch (error) {
      io.err(`portico: cannot watch ${runtime.config.functionsDir}: ${(error as Error).message}\n`);
    }
    const code = await serveUntilStopped(runtime, { reloadOnHangup: true });
    for (const watcher of watchers) watcher.close();
    clearTimeout(timer);
    return code;
  },
};
