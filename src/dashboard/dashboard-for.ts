import type { PorticoConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';
import type { FunctionBackend } from '../backends/function-backend.js';
import { LocalBackend } from '../backends/local/local-backend.js';
import type { StorageService } from '../storage/storage-service.js';
import { DashboardMount } from './dashboard-mount.js';
import { dashboardDevMode } from './session.js';

/**
 * The dashboard of a generation, or null when nobody could open it
 * (`dashboard: false`, or no admin key outside `portico dev`): then it
 * answers 404 and keeps no log history.
 */
export function dashboardFor(config: PorticoConfig, modules: LoadedModules, backend: FunctionBackend, inner: FunctionBackend, storage: StorageService): DashboardMount | null {
  if (!config.dashboard || (!config.api?.adminKey && !dashboardDevMode())) return null;
  return new DashboardMount({
    config,
    modules,
    backend,
    store: inner instanceof LocalBackend ? inner.store : null,
    storage,
    health: { configHash: config.hash, codeHash: modules.codeHash ?? '', backend: backend.description },
  });
}
