import { formatText } from '../../config/diagnostics.js';
import { checkProject } from '../../server/check-project.js';
import { staleGeneratedFiles, writeGeneratedFiles } from '../../codegen/write.js';
import { configFileOf, CONFIG_OPTION, EXIT, parse, type Command } from '../command.js';
import { configMissing } from '../config-missing.js';

// portico codegen [FILE] [-c FILE] [--check]
// Writes functions/_generated/ (api, dataModel, server: typed references,
// documents and builders); --check only says whether it is up to date.

export const codegen: Command = {
  name: 'codegen',
  summary: 'write functions/_generated/ (typed api, dataModel and server builders)',
  usage: 'portico codegen [FILE] [options]',
  options: [CONFIG_OPTION, { name: 'check', type: 'boolean', description: 'write nothing; exit 1 when functions/_generated/ is out of date' }],
  exitCodes: ['1  the project has errors, or (--check) the generated files are out of date'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, codegen.options, true);
    const file = configFileOf(values, positionals);
    const missing = await configMissing(file, io);
    if (missing) {
      io.err(missing);
      return EXIT.failed;
    }
    const check = await checkProject(file, { env: io.env });
    if (!check.config || !check.modules) {
      io.err(`${formatText(check.diagnostics, { cwd: io.cwd, files: [{ file }] })}\n`);
      return EXIT.failed;
    }
    if (values.check) {
      const stale = await staleGeneratedFiles(check.modules);
      if (stale.length === 0) {
        io.out('functions/_generated is up to date\n');
        return EXIT.ok;
      }
      io.err(`functions/_generated is out of date (${stale.join(', ')}): run portico codegen\n`);
      return EXIT.failed;
    }
    const written = await writeGeneratedFiles(check.modules);
    io.out(written.length === 0 ? 'functions/_generated is up to date\n' : `wrote ${written.join(', ')}\n`);
    return EXIT.ok;
  },
};
