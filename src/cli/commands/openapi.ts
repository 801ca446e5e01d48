import { stringify } from 'yaml';
import { openApiDocument } from '../../openapi/document.js';
import { CONFIG_OPTION, EXIT, parse, UsageError, type Command } from '../command.js';
import { CONVEX_OPTION } from '../convex-project.js';
import { projectForCommand } from '../project-for-command.js';

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
    const project = await projectForCommand(values, positionals, io, { load: 'project' });
    if (typeof project === 'number') return project;
    const document = openApiDocument(project.config, project.modules?.functions ?? null);
    io.out(format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringify(document, { aliasDuplicateObjects: false }));
    return EXIT.ok;
  },
};
