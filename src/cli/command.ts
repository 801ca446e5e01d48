import { parseArgs } from 'node:util';
import { suggest } from '../config/suggest.js';

// A CLI command is a plain object: its name, a one-line summary, its options
// (which make both the parser and the --help text, so they cannot disagree),
// and `run`, which returns the process exit code. Only bin.ts exits.

export interface Option {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** The value's placeholder in help: FILE, N, FORMAT. */
  value?: string;
  /** The default as help shows it; parse() does not apply it. */
  default?: string;
  description: string;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Option[];
  /** What the positional arguments are, for help. */
  positionals?: string;
  /** How the command answers signals, for help. */
  signals?: string;
  /** Which environment the command reads, for help (default: ENVIRONMENT). */
  environment?: string[];
  /** Exit codes beyond the usual three, for help. */
  exitCodes?: string[];
  run(argv: string[], io: Io): Promise<number>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal (pretty logs by default). */
  isTTY?: boolean;
}

/** A mistake in how the command was called: exit code 2, with the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Every command that reads routes.yaml reads these. */
export const ENVIRONMENT = [
  'PORT        the port, when neither --port nor server.port set one (routes.yaml may use ${PORT})',
  'NODE_ENV    production: error answers carry no message or stack',
  '.env        beside routes.yaml: variables for ${NAME} in it; the real environment wins',
];

export const CONFIG_OPTION: Option = { name: 'config', short: 'c', type: 'string', value: 'FILE', default: 'routes.yaml', description: 'the config file (also accepted as the first argument)' };
export const LOG_FORMAT_OPTION: Option = {
  name: 'log-format',
  type: 'string',
  value: 'FORMAT',
  default: 'logging.format, else auto',
  description: 'pretty (one readable line per request) or json (one JSON object per line); auto is pretty on a terminal, json otherwise',
};

export type Values = Record<string, string | boolean | string[] | undefined>;

/** Parses argv against `options`; a mistake is a UsageError that suggests the nearest option. */
export function parse(argv: string[], options: Option[], allowPositionals = false): { values: Values; positionals: string[] } {
  const known = ['help', ...options.map((option) => option.name)];
  for (const arg of argv) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const name = arg.slice(2).split('=')[0]!;
    if (!known.includes(name)) {
      const near = suggest(name, known);
      throw new UsageError(`unknown option --${name}${near ? ` (did you mean --${near}?)` : ''}`);
    }
  }
  const config = Object.fromEntries(
    options.map((option) => [option.name, { type: option.type, ...(option.short ? { short: option.short } : {}), ...(option.multiple ? { multiple: true } : {}) }]),
  );
  try {
    return parseArgs({ args: argv, options: config, allowPositionals, strict: true }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `portico <cmd> --help`: usage, options with their defaults, environment, exit codes. */
export function commandHelp(command: Command): string {
  const flag = (option: Option) => `${option.short ? `-${option.short}, ` : '    '}--${option.name}${option.value ? ` ${option.value}` : ''}`;
  const rows = [...command.options, { name: 'help', short: 'h', type: 'boolean', description: 'show this help' } as Option];
  const width = Math.max(...rows.map((option) => flag(option).length));
  const lines = [`usage: ${command.usage}`, '', command.summary];
  if (command.positionals) lines.push('', command.positionals);
  lines.push('', 'options:');
  for (const option of rows) lines.push(`  ${flag(option).padEnd(width)}  ${option.description}${option.default !== undefined ? ` (default: ${option.default})` : ''}`);
  lines.push('', 'environment:', ...(command.environment ?? ENVIRONMENT).map((line) => `  ${line}`));
  if (command.signals) lines.push('', 'signals:', `  ${command.signals}`);
  lines.push('', 'exit codes:', '  0  success', ...(command.exitCodes ?? ['1  failure (the reason is printed)']).map((line) => `  ${line}`), '  2  usage error (unknown option, bad value)');
  return `${lines.join('\n')}\n`;
}

export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${value}"`);
  return port;
}

export type LogFormat = 'auto' | 'json' | 'pretty';

export function parseLogFormat(value: string | boolean | string[] | undefined): LogFormat | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto' || value === 'json' || value === 'pretty') return value;
  const near = suggest(String(value), ['auto', 'json', 'pretty']);
  throw new UsageError(`--log-format must be auto, json or pretty, got "${value}"${near ? ` (did you mean ${near}?)` : ''}`);
}

/** The config file: the first positional argument or -c, not both. */
export function configFileOf(values: Values, positionals: string[]): string {
  const flag = values.config as string | undefined;
  if (flag !== undefined && positionals.length > 0) throw new UsageError(`give the config file once: as an argument or with -c, not both ("${positionals[0]}" and "${flag}")`);
  if (positionals.length > 1) throw new UsageError(`one config file at a time; unexpected "${positionals[1]}"`);
  return flag ?? positionals[0] ?? 'routes.yaml';
}
