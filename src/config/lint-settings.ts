// Checks across settings (backend, storage, URLs, files on disk, $PORT) that
// the schema sees one key at a time.
import { stat } from 'node:fs/promises';
import proxyaddr from 'proxy-addr';
import path from 'node:path';
import { portFromEnv, type Env } from './env.js';
import { isPostgresUrl, isRecord, record, str, type Unknown } from './raw.js';
import type { JsonPath, Reporter } from './source.js';
import { DEFAULTS } from './types.js';

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** A URL the gateway will call or print; the schema only checks its start. */
function lintHttpUrl(value: unknown, at: JsonPath, name: string, report: Reporter): void {
  if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    report.at('config/malformed-url', at, `${name} '${value}' is not a valid URL`);
    return;
  }
  const bare = `${url.protocol}//${url.host}${url.pathname.replace(/\/$/, '')}`;
  if (url.username || url.password) report.at('config/malformed-url', at, `${name} must not hold a user name or password`, `write '${bare}'`);
  else if (url.search || url.hash) report.at('config/malformed-url', at, `${name} must not have a query string or fragment`, `write '${bare}'`);
}

function lintBackend(data: Unknown, report: Reporter): void {
  const backend = record(data.backend);
  const ignored = (key: string, why: string) => {
    if (backend[key] !== undefined) report.atKey('config/ignored-key', ['backend', key], `backend.${key} is ignored ${why}`);
  };
  if (backend.kind === 'remote') {
    for (const key of ['url', 'adminKey']) {
      if (backend[key] === undefined) {
        report.at('config/remote-backend', ['backend', 'kind'], `backend.kind remote needs backend.${key}`, key === 'url' ? 'the base URL of the deployment that runs the functions' : "that deployment's admin key");
      }
    }
    ignored('database', 'with a remote backend: the remote deployment owns the data');
    ignored('pool', 'with a remote backend');
    ignored('queryCache', 'with a remote backend: the remote deployment caches its own queries');
    lintHttpUrl(backend.url, ['backend', 'url'], 'backend.url', report);
    return;
  }
  ignored('url', 'with a local backend (it is for kind: remote)');
  ignored('adminKey', 'with a local backend (it is for kind: remote; the function API key is api.adminKey)');
  const database = str(backend.database) ?? DEFAULTS.database;
  if (!isPostgresUrl(database)) {
    ignored('pool', 'with SQLite: it sizes the PostgreSQL connection pool');
    return;
  }
  try {
    new URL(database);
  } catch {
    report.at('config/malformed-url', ['backend', 'database'], 'backend.database is not a valid postgres:// URL', 'postgres://user:password@host:5432/dbname');
  }
}

function lintStorage(data: Unknown, report: Reporter): void {
  const storage = record(data.storage);
  if (storage.kind !== 'database') return;
  const backend = record(data.backend);
  if (storage.dir !== undefined) report.atKey('config/ignored-key', ['storage', 'dir'], 'storage.dir is ignored with storage.kind database');
  if (backend.kind === 'remote') {
    report.at('config/storage-database', ['storage', 'kind'], 'storage.kind database keeps files in the backend database, but a remote backend has no database here', 'use storage.kind fs');
  } else if (!isPostgresUrl(str(backend.database) ?? DEFAULTS.database)) {
    // Database storage exists so several gateway instances share files
    // through one PostgreSQL; with embedded SQLite there is one instance,
    // and fs storage does the same job without bloating the database file.
    report.at(
      'config/storage-database',
      ['storage', 'kind'],
      'storage.kind database needs a PostgreSQL backend.database (postgres://...); with embedded SQLite there is a single gateway instance and nothing to share',
      'use storage.kind fs, or set backend.database to a postgres:// URL',
    );
  }
}

async function lintAuth(data: Unknown, dir: string, report: Reporter): Promise<void> {
  const providers = record(data.auth).providers;
  if (!Array.isArray(providers)) return;
  await Promise.all(
    providers.map(async (provider: unknown, i: number) => {
      const jwks = isRecord(provider) ? str(provider.jwks) : undefined;
      if (jwks === undefined || jwks === '') return;
      const at: JsonPath = ['auth', 'providers', i, 'jwks'];
      if (/^https?:\/\//i.test(jwks)) return lintHttpUrl(jwks, at, 'jwks', report);
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(jwks)) {
        return report.at('config/malformed-url', at, `jwks must be an http(s) URL or a file path, not '${jwks}'`);
      }
      const file = path.resolve(dir, jwks);
      if (!(await exists(file))) report.at('config/missing-file', at, `JWKS file '${jwks}' does not exist (${file})`);
    }),
  );
}

/**
 * The functions folder, or null when it is missing (then handlers cannot be
 * inspected). Not reported when nothing needs it: no explicit `functions` key
 * and no routes.
 */
export async function lintFunctionsDir(data: Unknown, dir: string, report: Reporter): Promise<string | null> {
  const declared = str(data.functions);
  const functionsDir = path.resolve(dir, declared ?? DEFAULTS.functions);
  if (await isDirectory(functionsDir)) return functionsDir;
  const routes = Array.isArray(data.routes) ? data.routes.length : 0;
  if (declared !== undefined) {
    report.at('config/functions-dir', ['functions'], `functions folder '${declared}' does not exist (${functionsDir})`);
  } else if (routes > 0) {
    report.atKey(
      'config/functions-dir',
      ['routes'],
      `functions folder '${DEFAULTS.functions}' (the default) does not exist (${functionsDir})`,
      "create it, or point the 'functions' key at your handler modules",
    );
  }
  return null;
}

/** Each trusted proxy is an address, a CIDR range or a range name, as proxy-addr (what Express uses) reads them. */
function lintTrustProxy(value: unknown, report: Reporter): void {
  const entries: [string, JsonPath][] =
    typeof value === 'string' ? [[value, ['server', 'trustProxy']]] : Array.isArray(value) ? value.map((entry, i) => [entry, ['server', 'trustProxy', i]] as [string, JsonPath]) : [];
  for (const [entry, at] of entries) {
    if (typeof entry !== 'string') continue;
    try {
      proxyaddr.compile(entry);
    } catch (error) {
      report.at('config/trust-proxy', at, `trustProxy '${entry}' is not an IP address or CIDR range (${(error as Error).message})`, 'write an address (10.0.0.1), a range (10.0.0.0/8, fd00::/8) or loopback, linklocal, uniquelocal');
    }
  }
}

export async function lintSettings(data: Unknown, dir: string, env: Env, report: Reporter): Promise<void> {
  const server = record(data.server);
  lintHttpUrl(server.publicUrl, ['server', 'publicUrl'], 'publicUrl', report);
  lintTrustProxy(server.trustProxy, report);
  if (server.port === undefined && portFromEnv(env) === null) {
    report.at('env/invalid-port', ['server', 'port'], `$PORT is '${env.PORT}', not a port number (0 to 65535)`, 'fix $PORT, or set server.port');
  }
  lintBackend(data, report);
  lintStorage(data, report);
  await lintAuth(data, dir, report);
}
