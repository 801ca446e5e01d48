import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configFileOf, UsageError, type Option, type Values } from './command.js';

// `--convex ./convex`: a Convex project's folder served without a routes.yaml.
// The folder's modules are the functions, its http.ts (or .js) the router.
// The commands stay config-driven: this writes the config they read into
// <project>/.portico/convex/routes.yaml (the project is the folder's parent),
// with the data in <project>/.data as in any Portico project, and every other
// setting at its default. To configure more (CORS, auth, limits), copy it
// beside package.json as routes.yaml and serve that.

export const CONVEX_OPTION: Option = {
  name: 'convex',
  type: 'string',
  value: 'DIR',
  description: "a Convex project's folder (e.g. ./convex) to serve without a routes.yaml: its modules are the functions, its http.ts the router",
};

const ROUTER_FILES = ['http.ts', 'http.js', 'http.mts', 'http.mjs'];

/** Writes the config for the Convex folder `dir` and returns its path. */
export function convexConfigFile(dir: string): string {
  const folder = path.resolve(dir);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new UsageError(`--convex: ${dir} is not a folder`);
  const root = path.dirname(folder);
  const configDir = path.join(root, '.portico', 'convex');
  const from = (target: string) => path.relative(configDir, target).split(path.sep).join('/');
  const router = ROUTER_FILES.map((name) => path.join(folder, name)).find((file) => existsSync(file));
  const text = [
    `# Written by \`portico --convex ${path.relative(root, folder)}\` each time it starts; edits here are lost.`,
    '# To configure the gateway (cors, auth, limits...), copy this file beside package.json',
    '# as routes.yaml, fix its paths, and serve that instead.',
    'version: 1',
    `functions: ${JSON.stringify(from(folder))}`,
    ...(router ? [`router: ${JSON.stringify(from(router))}`] : []),
    `backend: { kind: local, database: ${JSON.stringify(from(path.join(root, '.data', 'portico.sqlite')))} }`,
    `storage: { kind: fs, dir: ${JSON.stringify(from(path.join(root, '.data', 'storage')))} }`,
    'routes: []',
    '',
  ].join('\n');
  const file = path.join(configDir, 'routes.yaml');
  // Written only when it changes: --workers start one process each, and a
  // worker must never read the file while another rewrites it.
  if (readOr(file) !== text) {
    mkdirSync(configDir, { recursive: true });
    writeFileSync(`${file}.${process.pid}`, text);
    renameSync(`${file}.${process.pid}`, file);
  }
  return file;
}

function readOr(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The config file a command reads: the one --convex writes, else -c / the first argument. */
export function configFileWith(values: Values, positionals: string[], cwd: string): string {
  const configured = configFileOf(values, positionals);
  if (typeof values.convex !== 'string') return path.resolve(cwd, configured);
  if (values.config !== undefined || positionals.length > 0) throw new UsageError('--convex and a config file exclude each other: --convex serves a Convex folder without routes.yaml');
  return convexConfigFile(path.resolve(cwd, values.convex));
}
