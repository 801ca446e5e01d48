import { access } from 'node:fs/promises';
import path from 'node:path';
import { diagnostic, type Diagnostic } from '../config/diagnostics.js';
import { lintCodeRoutes, topLevelKeyPosition, withCodeRoutes, type CodeRoute } from '../config/router-routes.js';
import type { HttpMethod, PorticoConfig } from '../config/types.js';
import { isRouterLike, routeSite } from '../functions/http-router.js';
import type { LoadedModules } from '../functions/loader.js';
import { moduleNameOf } from '../functions/names.js';
import { isHttpAction, type HttpAction } from '../functions/registration.js';

// The router module that routes.yaml names (`router: ./functions/http.ts`),
// read once its modules are loaded: its routes join the config's, its
// handlers join the HTTP actions the gateway compiles. A handler that some
// module exports keeps that name ("messages:postMessage"); one written inline
// in the router is named by the line that routes it ("http.ts:42").

export interface JoinedProject {
  config: PorticoConfig;
  modules: LoadedModules;
  diagnostics: Diagnostic[];
}

export async function joinRouterRoutes(config: PorticoConfig, modules: LoadedModules): Promise<JoinedProject> {
  const file = config.router;
  if (file === null) return { config, modules, diagnostics: [] };
  const at = await topLevelKeyPosition(config.file, 'router');
  const fail = (message: string, hint?: string): JoinedProject => ({ config, modules, diagnostics: [diagnostic('router/invalid', config.file, at, message, hint)] });
  const shownFile = path.relative(path.dirname(config.file), file) || file;
  const relative = path.relative(config.functionsDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    return fail(`router: ${shownFile} is outside the functions folder (${path.relative(path.dirname(config.file), config.functionsDir) || '.'})`, 'move the router module into the functions folder');
  }
  if (!(await exists(file))) return fail(`router: ${shownFile} does not exist`);
  const moduleName = moduleNameOf(relative);
  // A module that does not build or throws while loading is reported at its own line.
  if (modules.problems.has(moduleName)) return { config, modules, diagnostics: [] };
  const namespace = modules.modules.get(moduleName);
  if (!namespace || !('default' in namespace)) return fail(`\`${shownFile}\` must have a default export of a Router.`, 'end the module with: export default http; (http = httpRouter())');
  const router = namespace.default;
  if (!isRouterLike(router)) return fail(`The default export of \`${shownFile}\` is not a Router.`, 'make it httpRouter() from portico (or convex/server)');

  const exportedAs = new Map<unknown, string>();
  for (const [name, action] of modules.httpActions) if (!exportedAs.has(action)) exportedAs.set(action, name);
  const httpActions = new Map(modules.httpActions);
  const routes: CodeRoute[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const [shown, method, handler] of router.getRoutes()) {
    const kind = shown.endsWith('*') ? 'prefix' : 'exact';
    const routePath = kind === 'prefix' ? shown.slice(0, -1) : shown;
    const site = routeSite(router, `${method} ${shown}`);
    if (!isHttpAction(handler)) {
      const at = site ?? { file, line: 1, column: 1 };
      diagnostics.push(diagnostic('router/invalid', at.file, at, `${method} ${shown}: the handler is not an HTTP action`, 'define it with httpAction(async (ctx, request) => ...)'));
      continue;
    }
    let name = exportedAs.get(handler);
    if (name === undefined) {
      const base = site ? `${path.basename(site.file)}:${site.line}` : `${path.basename(file)} ${method} ${shown}`;
      name = base;
      for (let n = 2; httpActions.has(name) && httpActions.get(name) !== handler; n++) name = `${base} (${n})`;
      httpActions.set(name, handler as HttpAction);
    }
    routes.push({ method: method as HttpMethod, path: routePath, kind, handler: name, site });
  }
  diagnostics.push(...(await lintCodeRoutes(config, routes, file)));
  if (diagnostics.some((d) => d.severity === 'error')) return { config, modules, diagnostics };
  return { config: withCodeRoutes(config, routes), modules: { ...modules, httpActions }, diagnostics };
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
