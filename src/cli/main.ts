import { readFileSync } from 'node:fs';
import { isEnvironmentError, StartupError } from '../server/startup-error.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';

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
  { name: 'serve', summary: 'start the gateway', load: async () => (await import('./commands/serve.js')).serve },
  { name: 'validate', summary: 'check routes.yaml files and their handlers without starting anything', load: async () => (await import('./commands/validate.js')).validate },
  { name: 'routes', summary: 'print the compiled route table', load: async () => (await import('./commands/routes.js')).routes },
  { name: 'run', summary: 'run a function once and print its result as JSON', load: async () => (await import('./commands/run.js')).run },
  { name: 'dev', summary: 'serve, and reload on every change to routes.yaml or functions/', load: async () => (await import('./commands/dev.js')).dev },
];

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(help());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    io.err(`portico: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`portico ${command.name}: ${error.message}\nusage: ${command.usage}\n`);
      return EXIT.usage;
    }
    // The machine refused something (a folder that cannot be written, a
    // full disk): the operator's to fix, said in one line, not a bug's stack.
    if (error instanceof StartupError || isEnvironmentError(error)) {
      io.err(`portico ${command.name}: ${error.message}\n`);
      return EXIT.failed;
    }
    throw error;
  }
}

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `usage: portico <command> [options]\n\n${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}\n\nportico <command> --help shows a command's options.\n`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
