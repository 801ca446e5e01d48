import { CONVEX_OPTION, configFileWith } from './convex-project.js';
import { CONFIG_OPTION, LOG_FORMAT_OPTION, parse, parseLogFormat, parsePort, type Command, type Io, type LogFormat, type Option } from './command.js';

// The options `serve` and `dev` share, parsed once for both.

export const SERVE_OPTIONS: Option[] = [
  CONFIG_OPTION,
  CONVEX_OPTION,
  { name: 'port', short: 'p', type: 'string', value: 'N', default: 'server.port, else $PORT, else 3000', description: 'the port to listen on (0: any free port); also sets ${PORT} for routes.yaml' },
  { name: 'host', type: 'string', value: 'HOST', default: 'server.host, else 127.0.0.1', description: 'the address to listen on (0.0.0.0: every interface)' },
  { name: 'workers', short: 'w', type: 'string', value: 'N|auto', default: '1', description: 'worker processes sharing the port; auto: one per core' },
  LOG_FORMAT_OPTION,
];

export interface ServeOptions {
  configFile: string;
  port: number | undefined;
  host: string | undefined;
  workers: string | undefined;
  logFormat: LogFormat | undefined;
}

export function parseServeOptions(argv: string[], io: Io, command: Command): ServeOptions {
  const { values, positionals } = parse(argv, command.options, true);
  return {
    configFile: configFileWith(values, positionals, io.cwd),
    port: parsePort(values.port as string | undefined),
    host: values.host as string | undefined,
    workers: values.workers as string | undefined,
    logFormat: parseLogFormat(values['log-format']),
  };
}
