import path from 'node:path';
import { formatText } from '../../config/diagnostics.js';
import { ANONYMOUS } from '../../backends/function-backend.js';
import { checkProject } from '../../server/check-project.js';
import { buildBackend } from '../../server/generation.js';
import { SharedResources } from '../../server/resources.js';
import { describeBackend, environmentCause } from '../../server/startup-error.js';
import { createLogger } from '../../log/logger.js';
import { installConsoleCapture } from '../../log/console-capture.js';
import { convexToJson, jsonToConvex, toCleanJson, type Value } from '../../values/value.js';
import { failedSummary } from '../report.js';
import { CONFIG_OPTION, EXIT, LOG_FORMAT_OPTION, parse, parseLogFormat, UsageError, type Command } from '../command.js';

// portico run NAME [ARGS_JSON] [-c FILE]
// Runs a query, mutation or action once against the configured backend (as
// an admin: internal functions too) and prints its result as JSON. Int64
// values print as decimal strings and bytes as base64, as the `json` format
// of the function API does.

export const run: Command = {
  name: 'run',
  summary: 'run a query, mutation or action once (as an admin) and print its result as JSON',
  usage: 'portico run NAME [ARGS_JSON] [options]',
  positionals: 'NAME: the function, as Convex names it ("messages:list", "dir/file:fn"). ARGS_JSON: its arguments as one JSON object (default: {}).',
  options: [{ ...CONFIG_OPTION, description: 'the config file' }, LOG_FORMAT_OPTION],
  exitCodes: ['1  the function failed (its error on stderr), or the config has errors'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, run.options, true);
    const logFormat = parseLogFormat(values['log-format']);
    const [name, argsText, extra] = positionals;
    if (!name) throw new UsageError('run needs a function name, e.g. portico run messages:list \'{"author":"ada"}\'');
    if (extra !== undefined) throw new UsageError('run takes one JSON argument object; quote it as one shell word');
    let args: Value = {};
    if (argsText !== undefined) {
      try {
        args = jsonToConvex(JSON.parse(argsText));
      } catch (error) {
        throw new UsageError(`ARGS_JSON is not valid JSON: ${(error as Error).message}`);
      }
    }

    const file = path.resolve(io.cwd, (values.config as string | undefined) ?? 'routes.yaml');
    const check = await checkProject(file, { env: io.env });
    if (!check.config || !check.modules) {
      io.err(`${formatText(check.diagnostics, { cwd: io.cwd, files: [failedSummary(file, check.diagnostics)] })}\n`);
      return EXIT.failed;
    }
    const logger = createLogger({ level: 'warn', format: logFormat ?? check.config.logging.format });
    installConsoleCapture(logger);
    const resources = new SharedResources(logger);
    try {
      let backend;
      try {
        ({ backend } = await buildBackend(check.config, check.modules, resources, { value: check.config.server.publicUrl ?? `http://localhost:${check.config.server.port}` }));
      } catch (error) {
        // A database that is down is the operator's to fix, not a bug.
        const refused = environmentCause(error);
        if (!refused) throw error;
        io.err(`portico run: cannot start ${describeBackend(check.config.backend)}: ${refused.message}\n`);
        return EXIT.failed;
      }
      const result = await backend.call({
        kind: 'function',
        name,
        args: convexToJson(args),
        caller: { identity: ANONYMOUS, internal: true, requestId: 'cli', collectLogs: true },
      });
      for (const line of result.logLines) io.err(`${line}\n`);
      if (result.status === 'error') {
        io.err(`${result.errorMessage}\n`);
        if (result.errorData !== undefined) io.err(`data: ${JSON.stringify(toCleanJson(jsonToConvex(result.errorData)))}\n`);
        return EXIT.failed;
      }
      io.out(`${JSON.stringify(toCleanJson(jsonToConvex(result.value)), null, 2)}\n`);
      return EXIT.ok;
    } finally {
      await resources.close();
    }
  },
};
