import path from 'node:path';
import { formatText } from '../../config/diagnostics.js';
import { loadConfig } from '../../config/load.js';
import type { PorticoConfig } from '../../config/types.js';
import { EXIT, parse, type Command } from '../command.js';

// portico routes [-c FILE]
// Prints the compiled route table: method, path, handler, CORS, auth, in the
// order a request is matched against them, plus the preflights the gateway
// generates and the paths it reserves for itself.

export const routes: Command = {
  name: 'routes',
  summary: 'print the compiled route table',
  usage: 'portico routes [-c FILE]',
  async run(argv, io) {
    const { values } = parse(argv, { config: { type: 'string', short: 'c', default: 'routes.yaml' } });
    const file = path.resolve(io.cwd, values.config!);
    const { config, diagnostics } = await loadConfig(file, { env: io.env });
    if (!config) {
      io.err(`${formatText(diagnostics, { cwd: io.cwd, files: [{ file }] })}\n`);
      return EXIT.failed;
    }
    io.out(`${table(config)}\n`);
    return EXIT.ok;
  },
};

function table(config: PorticoConfig): string {
  const rows: string[][] = [['METHOD', 'PATH', 'HANDLER', 'CORS', 'AUTH']];
  const corsOf = (origins: string[] | undefined) => (origins === undefined ? '-' : origins.length === 0 ? '(no origins)' : origins.join(' '));
  // Matching order: exact paths, then parameter paths, then prefixes (longest first).
  const rank = (route: PorticoConfig['routes'][number]) => (route.kind === 'prefix' ? 2 : route.path.includes('/:') ? 1 : 0);
  const sorted = [...config.routes].sort((a, b) => rank(a) - rank(b) || (a.kind === 'prefix' ? b.path.length - a.path.length : 0) || a.path.localeCompare(b.path));
  const preflights = new Map<string, string[]>();
  for (const route of sorted) {
    const shown = route.kind === 'prefix' ? `${route.path}*` : route.path;
    rows.push([route.methods.join(','), shown, route.handler, corsOf(route.cors?.origins), route.auth]);
    if (route.cors && !route.methods.includes('OPTIONS')) preflights.set(shown, [...(preflights.get(shown) ?? []), ...route.methods]);
  }
  for (const [shown, methods] of preflights) {
    if (config.routes.some((route) => (route.kind === 'prefix' ? `${route.path}*` : route.path) === shown && route.methods.includes('OPTIONS'))) continue;
    rows.push(['OPTIONS', shown, `(preflight: ${methods.join(', ')})`, '', '']);
  }
  rows.push(['GET', '/_portico/health', '(portico)', '-', '-']);
  if (config.api) rows.push(['POST', `${config.api.prefix}/*`, '(function API)', 'any origin', config.api.adminKey ? 'token or admin key' : 'token']);
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}
