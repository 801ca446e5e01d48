import { readFileSync } from 'node:fs';
import { suggest } from '../config/suggest.js';
import { environmentCause, StartupError } from '../server/startup-error.js';
import { commandHelp, ENVIRONMENT, EXIT, UsageError, type Command, type Io } from './command.js';

// Dispatches `portico <command> ...` and returns the exit code. A user's
// mistake in calling it is a UsageError (exit 2, with the usage); anything
// else that escapes a command is a bug and prints its stack. Each command's
// code loads only when it runs, so `validate` does not load the server.

interface Entry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

const COMMANDS: Entry[] = [
  { name: 'init', summary: 'write a new project (routes.yaml, functions/, package.json) into a folder', load: async () => (await import('./commands/init.js')).init },
  { name: 'dev', summary: 'serve, and reload on every change to routes.yaml, .env or functions/', load: async () => (await import('./commands/dev.js')).dev },
  { name: 'serve', summary: 'start the gateway and print the URL it listens on', load: async () => (await import('./commands/serve.js')).serve },
  { name: 'validate', summary: 'check routes.yaml files and their handlers without starting anything', load: async () => (await import('./commands/validate.js')).validate },
  { name: 'routes', summary: 'print the compiled route table', load: async () => (await import('./commands/routes.js')).routes },
  { name: 'codegen', summary: 'write functions/_generated/ (typed api, dataModel and server builders)', load: async () => (await import('./commands/codegen.js')).codegen },
  { name: 'crons', summary: 'list the cron jobs of functions/crons.ts with their schedules and next runs', load: async () => (await import('./commands/crons.js')).crons },
  { name: 'openapi', summary: 'print the OpenAPI 3.1 document of the routes and public functions', load: async () => (await import('./commands/openapi.js')).openapi },
  { name: 'diff', summary: 'compare two configs and mark breaking changes (exit 1 when there is one)', load: async () => (await import('./commands/diff.js')).diff },
  { name: 'run', summary: 'run a function once (as an admin) and print its result as JSON', load: async () => (await import('./commands/run.js')).run },
];

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    // `portico help serve` is `portico serve --help`.
    const topic = name === 'help' ? COMMANDS.find((candidate) => candidate.name === rest[0]) : undefined;
    if (topic) {
      io.out(commandHelp(await topic.load()));
      return EXIT.ok;
    }
    io.out(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    const near = suggest(name, COMMANDS.map((candidate) => candidate.name));
    io.err(`portico: unknown ${name.startsWith('-') ? 'option' : 'command'} "${name}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${help()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  const beforeDashes = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (beforeDashes.includes('--help') || beforeDashes.includes('-h')) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`portico ${command.name}: ${error.message}\nusage: ${command.usage}  (portico ${command.name} --help lists the options)\n`);
      return EXIT.usage;
    }
    // The machine refused something (a folder that cannot be written, a
    // full disk): the operator's to fix, said in one line, not a bug's stack.
    const refused = error instanceof StartupError ? error : environmentCause(error);
    if (refused) {
      io.err(`portico ${command.name}: ${refused.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'usage: portico <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'options:',
    '  -h, --help     show help (portico <command> --help shows a command\'s options and defaults)',
    '  -v, --version  print the version',
    '',
    'environment:',
    ...ENVIRONMENT.map((line) => `  ${line}`),
    '',
    'exit codes:',
    '  0   success',
    '  1   failure: an invalid config, a failed function, a port in use (the reason is printed)',
    '  2   usage error: an unknown command or option, a bad value',
    '  70  internal error (a bug: the stack is printed)',
    '',
    'Start a project: npx portico init my-app && cd my-app && npm install && npm run dev',
    '',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
