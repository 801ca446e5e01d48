import { staleGeneratedFiles, writeGeneratedFiles } from '../../codegen/write.js';
import { CONFIG_OPTION, EXIT, parse, type Command } from '../command.js';
import { projectForCommand } from '../project-for-command.js';

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
    const project = await projectForCommand(values, positionals, io, { load: 'modules', pathAsTyped: true });
    if (typeof project === 'number') return project;
    if (values.check) {
      const stale = await staleGeneratedFiles(project.modules);
      if (stale.length === 0) {
        io.out('functions/_generated is up to date\n');
        return EXIT.ok;
      }
      io.err(`functions/_generated is out of date (${stale.join(', ')}): run portico codegen\n`);
      return EXIT.failed;
    }
    const written = await writeGeneratedFiles(project.modules);
    io.out(written.length === 0 ? 'functions/_generated is up to date\n' : `wrote ${written.join(', ')}\n`);
    return EXIT.ok;
  },
};
