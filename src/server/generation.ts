import type { Logger } from 'pino';
import type { PorticoConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';
import { CompiledSchema } from '../database/compiled-schema.js';
import type { WriteTx } from '../database/store.js';
import { isIdOfTable } from '../database/document-api.js';
import { LocalBackend } from '../backends/local/local-backend.js';
import type { Caller, FunctionBackend } from '../backends/function-backend.js';
import { identityFromHeader } from '../auth/request-identity.js';
import { FunctionApi, type SubMount } from '../api/function-api.js';
import { openApiText } from '../openapi/document.js';
import { compileGateway } from '../gateway/compile.js';
import { RateLimit } from '../policies/rate-limit.js';
import { MiddlewareSet } from '../policies/middleware.js';
import path from 'node:path';
import { forwardingFor } from '../http/forwarding.js';
import type { Gateway, Mount } from '../gateway/gateway.js';
import { OPS_PREFIX, OpsMount } from '../gateway/ops-mount.js';
import { StorageContextImpl, type StorageMode, type StorageUrls } from '../storage/storage-context.js';
import { enableAttribution } from '../log/console-capture.js';
import { dispositionPolicy } from '../storage/file-headers.js';
import { storageMount } from '../api/storage-http.js';
import type { SharedResources, StorageParts } from './resources.js';
import { meteredBackend } from '../backends/metered-backend.js';
import { processMetrics } from '../metrics/metrics.js';
import { dashboardFor } from '../dashboard/dashboard-for.js';

// One generation of a running gateway: a config, the modules it names, the
// backend that runs them and the compiled Gateway. Built entirely before it
// serves a request; a reload builds the next one and swaps it in.

export interface Generation {
  config: PorticoConfig;
  gateway: Gateway;
  backend: FunctionBackend;
  modules: LoadedModules;
}

/** The gateway's public base URL, known once it listens. */
export interface BaseUrl {
  value: string;
}

// Queries and mutations hold a transaction; one that runs this long is
// abandoned (Convex allows 1 s of user code; this leaves room for I/O-heavy
// transactions on PostgreSQL).
const TRANSACTION_TIMEOUT_MS = 30_000;

export interface BackendParts {
  backend: FunctionBackend;
  storage: StorageParts;
  urls: StorageUrls;
}

/** The function backend a config asks for (also used alone by `portico run`). */
export async function buildBackend(config: PorticoConfig, modules: LoadedModules, resources: SharedResources, baseUrl: BaseUrl): Promise<BackendParts> {
  const urls = storageUrls(config, baseUrl);
  if (config.backend.kind === 'remote') {
    const { RemoteBackend } = await import('../backends/remote/remote-backend.js');
    // A call still running past the gateway's own timeout has nobody waiting for it.
    const remote = new RemoteBackend(config.backend.url, config.backend.adminKey, { timeoutMs: config.limits.timeoutMs });
    return { backend: remote, storage: await remote.storageParts(), urls };
  }
  const store = await resources.store(config.backend.database);
  const schema = CompiledSchema.compile(modules.schema, { isIdOfTable });
  await store.applySchema(schema.tableSpecs);
  const storage = await resources.storage(config, config.backend.database, store);
  const backend = new LocalBackend(store, modules, schema, storage.service, {
    production: process.env.NODE_ENV === 'production',
    transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
    // A mutation's storage writes go through its own transaction (tx).
    storageFor: (_caller, mode, tx) => storageContext(storage, urls, mode, tx),
    queryCache: config.backend.queryCache,
  });
  return { backend, storage, urls };
}

export async function buildGeneration(
  config: PorticoConfig,
  modules: LoadedModules,
  resources: SharedResources,
  logger: Logger,
  baseUrl: BaseUrl,
): Promise<Generation> {
  if (modules.usesConsole) enableAttribution();
  const authenticator = resources.authenticator(config.auth.providers);
  const built = await buildBackend(config, modules, resources, baseUrl);
  const { storage, urls } = built;
  const backend = config.metrics ? meteredBackend(built.backend, modules, processMetrics()) : built.backend;

  const mounts: { prefix: string; mount: Mount }[] = [
    { prefix: OPS_PREFIX, mount: new OpsMount({ configHash: config.hash, codeHash: modules.codeHash ?? '', routes: config.routes.length, backend: backend.description }, { config, dashboard: dashboardFor(config, modules, backend, built.backend, storage.service), openapi: openApiText(config, modules.functions) }) },
  ];
  if (config.api) {
    const storageHttp: SubMount = storageMount(storage, config.limits.body, config.api.adminKey, dispositionPolicy(config.storage.inlineTypes));
    const functionApi = new FunctionApi(config.api.prefix, backend, authenticator, config.api.adminKey, [storageHttp], config.api.logLines ?? undefined);
    // The top-level rateLimit covers the function API too, as one budget per key.
    const forwarding = forwardingFor(config.server.trustProxy);
    if (config.rateLimit) functionApi.rateLimit = new RateLimit(config.rateLimit, config.api.prefix, { client: (req) => forwarding.client(req), identity: (req) => identityFromHeader(authenticator, req.headers.authorization).get().then((user) => user?.tokenIdentifier ?? null) }, logger);
    mounts.push({ prefix: `${config.api.prefix}/`, mount: functionApi });
  }

  // Koa middleware the routes name: loaded and checked now, so a broken one fails the start (or the reload).
  const middlewareSpecs = config.routes.flatMap((route) => route.middleware ?? []);
  const middleware = middlewareSpecs.length > 0 ? await MiddlewareSet.load(middlewareSpecs, path.dirname(config.file), logger) : undefined;
  const gateway = compileGateway(
    config,
    modules,
    {
      middleware,
      logger,
      production: process.env.NODE_ENV === 'production',
      backend,
      identityOf: (req) => identityFromHeader(authenticator, req.headers.authorization),
      storageFor: (_caller: Caller) => storageContext(storage, urls, 'action'),
    },
    mounts,
  );
  return { config, gateway, backend, modules };
}

function storageContext(storage: StorageParts, urls: StorageUrls, mode: StorageMode, tx?: WriteTx) {
  return new StorageContextImpl(storage.service, urls, () => storage.uploadToken(), mode, tx);
}

function storageUrls(config: PorticoConfig, baseUrl: BaseUrl): StorageUrls {
  const api = config.api;
  const base = () => (config.server.publicUrl ?? baseUrl.value).replace(/\/+$/, '');
  return {
    file: (storageId) => (api ? `${base()}${api.prefix}/storage/${storageId}` : null),
    upload: (token) => (api ? `${base()}${api.prefix}/storage/upload?token=${token}` : null),
  };
}
