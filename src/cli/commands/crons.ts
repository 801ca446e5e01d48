import { parseFunctionName } from '../../functions/names.js';
import { describeSchedule, planCrons } from '../../scheduler/cron-runner.js';
import { CONFIG_OPTION, EXIT, parse, UsageError, type Command } from '../command.js';
import { CONVEX_OPTION } from '../convex-project.js';
import { projectForCommand } from '../project-for-command.js';

// portico crons [FILE] [-c FILE] [--format text|json]
// Lists the cron jobs of functions/crons.ts: name, schedule (UTC), the
// function each runs and when it would next run if deployed now.

export const crons: Command = {
  name: 'crons',
  summary: 'list the cron jobs of functions/crons.ts with their schedules and next runs',
  usage: 'portico crons [FILE] [options]',
  options: [CONFIG_OPTION, CONVEX_OPTION, { name: 'format', type: 'string', value: 'FORMAT', default: 'text', description: 'text (an aligned table) or json (one object per job)' }],
  exitCodes: ['1  the project or its crons.ts has errors'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, crons.options, true);
    const format = (values.format as string | undefined) ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got "${format}"`);
    const project = await projectForCommand(values, positionals, io, { load: 'modules' });
    if (typeof project === 'number') return project;
    const { modules } = project;
    const module = modules.modules.get('crons');
    const kindOf = (name: string) => {
      try {
        return modules.functions.get(parseFunctionName(name).canonical)?.kind ?? null;
      } catch {
        return null;
      }
    };
    const { crons: planned, problems } = planCrons(module?.default, module !== undefined, kindOf);
    if (problems.length > 0) {
      io.err(problems.map((problem) => `functions/crons.ts: error: ${problem}\n`).join(''));
      return EXIT.failed;
    }
    const now = Date.now();
    const rows = planned.map((cron) => ({
      name: cron.cronName,
      schedule: describeSchedule(cron.job.schedule),
      function: parseFunctionName(cron.job.name).canonical,
      next: new Date(cron.first(now)).toISOString(),
    }));
    if (format === 'json') io.out(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) io.out('no cron jobs (functions/crons.ts default-exports cronJobs())\n');
    else {
      const header = { name: 'NAME', schedule: 'SCHEDULE', function: 'FUNCTION', next: 'NEXT RUN (UTC)' };
      const all = [header, ...rows];
      const width = (key: keyof typeof header) => Math.max(...all.map((row) => row[key].length));
      io.out(all.map((row) => [row.name.padEnd(width('name')), row.schedule.padEnd(width('schedule')), row.function.padEnd(width('function')), row.next].join('  ')).join('\n') + '\n');
    }
    return EXIT.ok;
  },
};
