import { formatText } from '../config/diagnostics.js';
import { loadConfig } from '../config/load.js';
import type { PorticoConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';
import { checkProject, type ProjectCheck } from '../server/check-project.js';
import { configFileOf, EXIT, type Io, type Values } from './command.js';
import { configMissing } from './config-missing.js';
import { configFileWith } from './convex-project.js';

// How the commands that read one project (routes, crons, codegen, openapi)
// begin: which config file (-c, the first argument or --convex), the
// friendly message when there is none, the project loaded and checked, and
// its problems printed as FILE:LINE:COL lines when it does not load.

/**
 * What must load for the command to go on:
 * - config: routes.yaml alone; the function modules too only when a router
 *   in code adds routes (they are known once the modules load)
 * - project: routes.yaml and its function modules; modules that fail to
 *   load are reported but do not stop the command
 * - modules: routes.yaml and its function modules, both without errors
 */
type Need = 'config' | 'project' | 'modules';

interface Options<N extends Need> {
  load: N;
  /**
   * For a command without --convex: the config path is passed on as typed,
   * not resolved against the working folder, so a missing relative config
   * is reported with its folder as typed.
   */
  pathAsTyped?: boolean;
}

interface CommandProject<N extends Need> {
  config: PorticoConfig;
  modules: N extends 'modules' ? LoadedModules : LoadedModules | null;
}

/**
 * The project a command works on, or, when there is none or it does not
 * load, the exit code to return (its reasons already printed on stderr).
 */
export async function projectForCommand<N extends Need>(values: Values, positionals: string[], io: Io, options: Options<N>): Promise<CommandProject<N> | number> {
  const file = options.pathAsTyped ? configFileOf(values, positionals) : configFileWith(values, positionals, io.cwd);
  const missing = await configMissing(file, io);
  if (missing) {
    io.err(missing);
    return EXIT.failed;
  }
  let check: ProjectCheck;
  if (options.load === 'config') {
    const { config, diagnostics } = await loadConfig(file, { env: io.env });
    check = config?.router ? await checkProject(file, { env: io.env }) : { config, modules: null, diagnostics };
  } else check = await checkProject(file, { env: io.env });
  if (!check.config || (options.load === 'modules' && !check.modules)) {
    io.err(`${formatText(check.diagnostics, { cwd: io.cwd, files: [{ file }] })}\n`);
    return EXIT.failed;
  }
  return { config: check.config, modules: check.modules as CommandProject<N>['modules'] };
}
