import path from 'node:path';
import { formatGithub, formatJson, formatText, type Diagnostic, type FileSummary } from '../../config/diagnostics.js';
import { checkProject } from '../../server/check-project.js';
import { staleGeneratedDiagnostics } from '../../codegen/stale-check.js';
import { EXIT, parse, UsageError, type Command } from '../command.js';
import { configMissing } from '../config-missing.js';
import { CONVEX_OPTION, convexConfigFile } from '../convex-project.js';

// portico validate [FILE]... [-c FILE]... [--format text|json|github] [--env-optional]
// Checks configs (and the modules they name) without starting anything.
// Exit 0: valid (warnings allowed); 1: invalid; 2: usage error.

const FORMATS = ['text', 'json', 'github'] as const;

export const validate: Command = {
  name: 'validate',
  summary: 'check routes.yaml files and their handlers without starting anything',
  usage: 'portico validate [FILE]... [options]',
  positionals: 'FILE...: the configs to check (default: routes.yaml); -c FILE may be repeated too.',
  options: [
    { name: 'config', short: 'c', type: 'string', multiple: true, value: 'FILE', default: 'routes.yaml', description: 'a config file to check (repeatable)' },
    CONVEX_OPTION,
    { name: 'format', type: 'string', value: 'FORMAT', default: 'text', description: 'text (FILE:LINE:COL lines), json (a machine-readable report) or github (Actions annotations)' },
    {
      name: 'env-optional',
      type: 'boolean',
      default: 'off: an unset ${VAR} is an error',
      description: 'for CI without secrets: an unset ${VAR} is a warning and its value unknown',
    },
  ],
  exitCodes: ['1  a config or its handlers have errors'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, validate.options, true);
    const format = (values.format ?? 'text') as (typeof FORMATS)[number];
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
    const files = [...((values.config as string[] | undefined) ?? []), ...positionals];
    if (typeof values.convex === 'string') files.push(convexConfigFile(path.resolve(io.cwd, values.convex)));
    if (files.length === 0) {
      files.push('routes.yaml');
      const missing = await configMissing(path.resolve(io.cwd, 'routes.yaml'), io);
      if (missing) {
        io.err(missing);
        return EXIT.failed;
      }
    }

    const diagnostics: Diagnostic[] = [];
    const summaries: FileSummary[] = [];
    for (const file of files) {
      const absolute = path.resolve(io.cwd, file);
      const check = await checkProject(absolute, { env: io.env, envOptional: values['env-optional'] === true });
      diagnostics.push(...check.diagnostics);
      if (check.modules) diagnostics.push(...(await staleGeneratedDiagnostics(check.modules)));
      const blocked = !check.config && !check.diagnostics.some((d) => d.file === absolute && d.severity === 'error');
      summaries.push(check.config ? { file: absolute, routes: check.config.routes.length } : { file: absolute, blocked });
    }

    const options = { cwd: io.cwd, files: summaries };
    if (format === 'json') io.out(`${JSON.stringify(formatJson(diagnostics, options), null, 2)}\n`);
    else if (format === 'github') {
      const text = formatGithub(diagnostics, { cwd: io.cwd });
      if (text) io.out(`${text}\n`);
      // Annotations on stdout for the runner; the per-file summary lines (the
      // text format's last lines) on stderr for people. A module that does
      // not build adds a summary of its own, so count files, not configs.
      const summarised = new Set([...summaries.map((s) => s.file), ...diagnostics.map((d) => d.file)]).size;
      io.err(`${formatText(diagnostics, options).split('\n').slice(-summarised).join('\n')}\n`);
    } else io.out(`${formatText(diagnostics, options)}\n`);
    return diagnostics.some((d) => d.severity === 'error') ? EXIT.failed : EXIT.ok;
  },
};
