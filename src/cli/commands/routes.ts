import type { PorticoConfig } from '../../config/types.js';
import { describePolicies } from '../../config/policies.js';
import { CONFIG_OPTION, EXIT, parse, UsageError, type Command } from '../command.js';
import { CONVEX_OPTION } from '../convex-project.js';
import { projectForCommand } from '../project-for-command.js';

// portico routes [FILE] [-c FILE] [--format text|json]
// Prints the compiled route table: method, path, handler, CORS, auth, in the
// order a request is matched against them, plus the preflights the gateway
// generates and the paths it reserves for itself.

export const routes: Command = {
  name: 'routes',
  summary: 'print the compiled route table: method, path, handler, CORS, auth',
  usage: 'portico routes [FILE] [options]',
  options: [CONFIG_OPTION, CONVEX_OPTION, { name: 'format', type: 'string', value: 'FORMAT', default: 'text', description: 'text (an aligned table) or json (one object per row)' }],
  exitCodes: ['1  the config has errors (printed as FILE:LINE:COL lines)'],
  async run(argv, io) {
    const { values, positionals } = parse(argv, routes.options, true);
    const format = (values.format as string | undefined) ?? 'text';
    if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got "${format}"`);
    const project = await projectForCommand(values, positionals, io, { load: 'config' });
    if (typeof project === 'number') return project;
    const rows = tableRows(project.config);
    io.out(format === 'json' ? `${JSON.stringify(rows, null, 2)}\n` : `${table(rows)}\n`);
    return EXIT.ok;
  },
};

interface Row {
  method: string;
  path: string;
  handler: string;
  cors: string;
  auth: string;
  /** rateLimit, request schemas, compression (describePolicies). */
  policies: string;
}

function tableRows(config: PorticoConfig): Row[] {
  const rows: Row[] = [];
  const corsOf = (origins: string[] | undefined) => (origins === undefined ? '-' : origins.length === 0 ? '(no origins)' : origins.join(' '));
  // Matching order: exact paths, then parameter paths, then prefixes (longest first).
  const rank = (route: PorticoConfig['routes'][number]) => (route.kind === 'prefix' ? 2 : route.path.includes('/:') ? 1 : 0);
  const sorted = [...config.routes].sort((a, b) => rank(a) - rank(b) || (a.kind === 'prefix' ? b.path.length - a.path.length : 0) || a.path.localeCompare(b.path));
  const preflights = new Map<string, string[]>();
  for (const route of sorted) {
    const shown = route.kind === 'prefix' ? `${route.path}*` : route.path;
    rows.push({ method: route.methods.join(','), path: shown, handler: route.handler, cors: corsOf(route.cors?.origins), auth: route.auth, policies: describePolicies(route) });
    if (route.cors && !route.methods.includes('OPTIONS')) preflights.set(shown, [...(preflights.get(shown) ?? []), ...route.methods]);
  }
  for (const [shown, methods] of preflights) {
    if (config.routes.some((route) => (route.kind === 'prefix' ? `${route.path}*` : route.path) === shown && route.methods.includes('OPTIONS'))) continue;
    rows.push({ method: 'OPTIONS', path: shown, handler: `(preflight: ${methods.join(', ')})`, cors: '', auth: '', policies: '' });
  }
  rows.push({ method: 'GET', path: '/_portico/health', handler: '(portico)', cors: '-', auth: '-', policies: '-' });
  if (config.api) rows.push({ method: 'POST', path: `${config.api.prefix}/*`, handler: '(function API)', cors: 'any origin', auth: config.api.adminKey ? 'token or admin key' : 'token', policies: describePolicies({ rateLimit: config.rateLimit, compression: null }) });
  return rows;
}

function table(rows: Row[]): string {
  const cells = [['METHOD', 'PATH', 'HANDLER', 'CORS', 'AUTH', 'POLICIES'], ...rows.map((row) => [row.method, row.path, row.handler, row.cors, row.auth, row.policies])];
  const widths = cells[0]!.map((_, column) => Math.max(...cells.map((row) => row[column]!.length)));
  return cells.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}
