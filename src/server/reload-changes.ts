import { canonicalJson } from '../config/freeze.js';
import type { PorticoConfig, RouteConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';

// What a reload changed, for its log line and `portico dev`'s message:
// routes added, removed or changed (named "METHOD path"), the source files
// of functions/ that changed, and the other top-level settings that did.

export interface ReloadChanges {
  routes: { added: string[]; removed: string[]; changed: string[] };
  /** Source files (relative to the functions folder) added, removed or edited. */
  modules: string[];
  /** Top-level keys of routes.yaml other than routes (cors, limits...). */
  settings: string[];
}

export function reloadChanges(previous: { config: PorticoConfig; modules: LoadedModules }, next: { config: PorticoConfig; modules: LoadedModules }): ReloadChanges {
  const before = routesByName(previous.config.routes);
  const after = routesByName(next.config.routes);
  const routes = {
    added: [...after.keys()].filter((name) => !before.has(name)),
    removed: [...before.keys()].filter((name) => !after.has(name)),
    changed: [...after.keys()].filter((name) => before.has(name) && before.get(name) !== after.get(name)),
  };
  const oldSources = previous.modules.sources ?? new Map<string, string>();
  const newSources = next.modules.sources ?? new Map<string, string>();
  const modules = [...new Set([...oldSources.keys(), ...newSources.keys()])].filter((file) => oldSources.get(file) !== newSources.get(file)).sort();
  const ignored = new Set(['routes', 'hash', 'file']);
  const keys = new Set([...Object.keys(previous.config), ...Object.keys(next.config)].filter((key) => !ignored.has(key)));
  const settings = [...keys].filter((key) => canonicalJson((previous.config as any)[key] ?? null) !== canonicalJson((next.config as any)[key] ?? null)).sort();
  return { routes, modules, settings };
}

/** "routes +GET /a -POST /b ~GET /c; modules changed: notes.ts; settings changed: cors", or "no change". */
export function describeChanges(changes: ReloadChanges): string {
  const parts: string[] = [];
  const { added, removed, changed } = changes.routes;
  const routeList = [...added.map((name) => `+${name}`), ...removed.map((name) => `-${name}`), ...changed.map((name) => `~${name}`)];
  if (routeList.length > 0) parts.push(`routes ${routeList.join(', ')}`);
  if (changes.modules.length > 0) parts.push(`modules changed: ${changes.modules.join(', ')}`);
  if (changes.settings.length > 0) parts.push(`settings changed: ${changes.settings.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'no change';
}

/** "GET,POST /notes" → the route without its position, as canonical JSON. */
function routesByName(routes: readonly RouteConfig[]): Map<string, string> {
  const named = new Map<string, string>();
  for (const route of routes) {
    const { index: _index, ...rest } = route;
    named.set(`${route.methods.join(',')} ${route.kind === 'prefix' ? `${route.path}*` : route.path}`, canonicalJson(rest));
  }
  return named;
}
