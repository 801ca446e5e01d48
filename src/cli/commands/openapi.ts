import { stringify } from 'yaml';
import { formatText } from '../../config/diagnostics.js';
import { openApiDocument } from '../../openapi/document.js';
import { checkProject } from '../../server/check-project.js';
import { configFileOf, CONFIG_OPTION, EXIT, parse, UsageError, type Command } from '../command.js';
import { configMissing } from '../config-missing.js';
import { CONVEX_OPTION, configFileWith } from '../convex-project.js';

// portico openapi [FILE] [-c FILE] [--format json|yaml]
// Prints the OpenAPI 3.1 document of a config: its routes, and the public
// functions of the function API. The same document GET /_portico/openapi.json serves.

export const openapi: Command = {
  name: 'openapi',
  summary: 'print the OpenAPI 3.1 document of the routes and public functions',
  usage: 'portico openapi [FILE] [options]',
  options: [CONFIG_OPTION, CONVEX_OPTION, { name: 'format', type: 'string', value: 'FORMAT', default: 'json', description: 'json or yaml' }],
  exitCodes: ['1  the config or its functions have errors (printed as FILE:LINE:COL lines)'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, openapi.options, true);
    const format = (values.format as string | undefined) ?? 'json';
    if (format !== 'json' && format !== 'yaml') throw new UsageError(`--format must be json or yaml, got "${format}"`);
    const file = configFileWith(values.convex, configFileOf(values, positionals), values.config !== undefined || positionals.length > 0, io.cwd);
    const missing = await configMissing(file, io);
    if (missing) {
      io.err(missing);
      return EXIT.failed;
    }
    const { config, modules, diagnostics } = await checkProject(file, { env: io.env });
    if (!config) {
      io.err(`${formatText(diagnostics, { cwd: io.cwd, files: [{ file }] })}\n`);
      return EXIT.failed;
    }
    const document = openApiDocument(config, modules?.functions ?? null);
    io.out(format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringify(document, { aliasDuplicateObjects: false }));
    return EXIT.ok;
  },
};
