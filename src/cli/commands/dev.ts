import path from 'node:path';
import { refreshGenerated } from '../../codegen/stale-check.js';
import { EXIT, type Command } from '../command.js';
import { parseServeOptions, SERVE_OPTIONS } from '../serve-options.js';
import { watchProject } from '../watch-project.js';
import { watchTlsFiles } from '../watch-tls.js';
import { serveUntilStopped, startOrReport } from './serve.js';
import { openDashboardOnLoopback } from '../../dashboard/session.js';

// portico dev [FILE] [-c routes.yaml] [--port N] [--host H] [--log-format F]
// serve, plus a watch on routes.yaml, its .env and the functions folder:
// every change is checked and hot-swapped in (an invalid one is refused and
// the running version keeps serving). dev belongs to a terminal: when the
// terminal hangs up (SIGHUP) it stops, so no gateway is left holding the port.

const DEBOUNCE_MS = 100;

export const dev: Command = {
  name: 'dev',
  summary: 'serve, and reload on every change to routes.yaml, .env or functions/',
  usage: 'portico dev [FILE] [options]',
  options: SERVE_OPTIONS.filter((option) => option.name !== 'workers'),
  signals: 'SIGTERM, SIGINT and SIGHUP (the terminal closing) stop it after requests in flight finish.',
  async run(argv, io) {
    const options = parseServeOptions(argv, io, dev);
    openDashboardOnLoopback();
    const runtime = await startOrReport(options, io);
    if (!runtime) return EXIT.failed;
    let timer: NodeJS.Timeout | undefined;
    // functions/_generated follows the code, in projects that use it.
    const refresh = () =>
      refreshGenerated(runtime.modules).then(
        (written) => written.length > 0 && io.err(`portico: wrote ${written.join(', ')}\n`),
        (error: Error) => io.err(`portico: functions/_generated: ${error.message}\n`),
      );
    await refresh();
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const result = await runtime.reload();
        io.err(result.ok ? `portico: reloaded (${result.summary})\n` : 'portico: change refused, the previous version keeps serving (see the log)\n');
        // routes.yaml may have moved the functions folder.
        if (result.ok) watch.follow(runtime.config.functionsDir);
        if (result.ok) await refresh();
      }, DEBOUNCE_MS);
    };
    const watch = watchProject(options.configFile, runtime.config.functionsDir, changed, (error) => io.err(`portico: watching: ${error.message}\n`));
    const tlsWatch = watchTlsFiles(runtime.config.server.tls, changed, (error) => io.err(`portico: watching: ${error.message}\n`));
    await Promise.all([watch.ready, tlsWatch?.ready]);
    // Announced once the watches are in place, so a change made as soon as
    // the URL is printed is seen. The URL stands alone on the line (followed
    // by a space), so scripts that pick it out take no punctuation with it.
    const shown = (file: string) => path.relative(io.cwd, file) || '.';
    // One write, so a reader that sees the first line has the second too.
    const dashboard = runtime.config.dashboard ? `Dashboard: ${runtime.url}/_portico/dashboard (open without a key from this machine)\n` : '';
    io.err(`Portico (dev) listening on ${runtime.url} (watching ${shown(options.configFile)} and ${shown(runtime.config.functionsDir)})\n${dashboard}`);
    const code = await serveUntilStopped(runtime, { reloadOnHangup: false });
    clearTimeout(timer);
    await Promise.all([watch.close(), tlsWatch?.close()]);
    return code;
  },
};
