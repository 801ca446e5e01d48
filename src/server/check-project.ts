import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { suggest as closest } from '../config/suggest.js';
import type { Diagnostic } from '../config/diagnostics.js';
import type { PorticoConfig } from '../config/types.js';
import { loadModules, type LoadedModules } from '../functions/loader.js';
import { parseFunctionName } from '../functions/names.js';
import { isRegisteredFunction } from '../functions/registration.js';
import { joinRouterRoutes } from './router-module.js';

// A project is routes.yaml plus its function modules; neither is valid
// alone. This loads both: the config checks call back here to see whether
// each handler exists and is an HTTP action, and module build errors are
// reported at their TypeScript line, in the same list.

export interface ProjectCheck {
  config: PorticoConfig | null;
  modules: LoadedModules | null;
  diagnostics: Diagnostic[];
}

export interface CheckOptions {
  env?: Record<string, string | undefined>;
  /** Unset variables are warnings, for checks without the secrets (CI). */
  envOptional?: boolean;
}

/** Where a project's module builds go (inside it, so npm packages resolve). */
export function buildRootOf(configFile: string): string {
  return path.join(path.dirname(configFile), '.portico', 'build');
}

export async function checkProject(configFile: string, options: CheckOptions = {}): Promise<ProjectCheck> {
  const file = path.resolve(configFile);
  // Loaded at most once, by the first handler check (or after the config).
  const loading: { modules: Promise<LoadedModules> | null } = { modules: null };
  const modulesOf = (functionsDir: string) => (loading.modules ??= loadModules(functionsDir, buildRootOf(file)));

  const result = await loadConfig(file, {
    env: options.env ?? process.env,
    envOptional: options.envOptional === true,
    inspectHandler: async (handler, functionsDir) => inspectHandler(handler, await modulesOf(functionsDir)),
  });

  const diagnostics = [...result.diagnostics];
  let modules: LoadedModules | null = null;
  if (loading.modules === null && result.config !== null) void modulesOf(result.config.functionsDir);
  if (loading.modules !== null) {
    modules = await loading.modules;
    // A problem in a shared file breaks every module importing it; it is
    // reported once, at its own line.
    const seen = new Set<string>();
    for (const problem of [...modules.problems.values()].flat()) {
      const key = `${problem.file}:${problem.line}:${problem.column}:${problem.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push({ file: problem.file, line: problem.line, column: problem.column, severity: 'error', message: problem.message, rule: 'functions/load' });
    }
  }
  let config = result.config;
  // The router module's routes join the config's once its code has loaded.
  if (config !== null && modules !== null && !diagnostics.some((d) => d.severity === 'error')) {
    const joined = await joinRouterRoutes(config, modules);
    ({ config, modules } = joined);
    diagnostics.push(...joined.diagnostics);
  }
  const failed = diagnostics.some((d) => d.severity === 'error');
  return { config: failed ? null : config, modules: failed ? null : modules, diagnostics };
}

type HandlerProblem = { rule: 'handler/missing-module' | 'handler/missing-export' | 'handler/not-http-action'; message: string };

/** Whether `handler` names an HTTP action among the loaded modules. */
export function inspectHandler(handler: string, modules: LoadedModules): HandlerProblem | null {
  let name;
  try {
    name = parseFunctionName(handler);
  } catch (error) {
    return { rule: 'handler/missing-module', message: (error as Error).message };
  }
  // A module that does not build or load is reported at its own line, once.
  if (modules.problems.has(name.module)) return null;
  const namespace = modules.modules.get(name.module);
  if (!namespace) {
    const known = [...modules.modules.keys()];
    return {
      rule: 'handler/missing-module',
      message: `no module "${name.module}" in ${path.relative(process.cwd(), modules.functionsDir) || '.'} (looked for ${name.module}.ts and ${name.module}.js)${suggest(name.module, known)}`,
    };
  }
  if (!(name.exportName in namespace)) {
    const exports = Object.keys(namespace);
    const what = name.exportName === 'default' ? 'default export' : `export named "${name.exportName}"`;
    return { rule: 'handler/missing-export', message: `module "${name.module}" has no ${what}${suggest(name.exportName, exports)}` };
  }
  if (!modules.httpActions.has(name.canonical)) {
    const value = namespace[name.exportName];
    const actual = isRegisteredFunction(value) ? `a ${value.visibility === 'internal' ? 'internal ' : ''}${value.kind}` : `a ${typeof value}`;
    return { rule: 'handler/not-http-action', message: `"${handler}" is ${actual}, not an HTTP action: define it with httpAction(async (ctx, request) => ...)` };
  }
  return null;
}

function suggest(word: string, candidates: string[]): string {
  const best = closest(word, candidates);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}
