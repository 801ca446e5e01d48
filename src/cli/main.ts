import { readFileSync } from 'node:fs';
import { dev } from './commands/dev.js';
import { routes } from './commands/routes.js';
import { run } from './commands/run.js';
import { serve } from './commands/serve.js';
import { validate } from './commands/validate.js';
import { EXIT, UsageError, type Command, type Io } from './command.js';

// Dispatches `portico <command> ...` and returns the exit code. A user's
// mistake in calling it is a UsageError (exit 2, with the usage); anything
// else that escapes a command is a bug and prints its stack.

const COMMANDS: Command[] = [serve, validate, routes, run, dev];

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
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    io.err(`portico: unknown command "${name}"\n\n${help()}`);
    return EXIT.usage;
  }
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
