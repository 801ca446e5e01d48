import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PorticoConfig } from '../config/types.js';
import type { LoadedModules } from '../functions/loader.js';
import type { FunctionBackend } from '../backends/function-backend.js';
import { ANONYMOUS } from '../backends/function-backend.js';
import type { Store } from '../database/store.js';
import type { StorageService } from '../storage/storage-service.js';
import { answerHeaders, type Exchange, type Mount } from '../gateway/gateway.js';
import { writeEmpty, writeGatewayError, writeJson } from '../gateway/gateway-responses.js';
import { GatewayError, isGatewayError } from '../http/errors.js';
import { writeHeadSafely } from '../http/header-values.js';
import { readJsonBody } from '../api/json-body.js';
import { answerGather, gather } from '../metrics/cluster-gather.js';
import { chartsOf, recentFunctions, recentRoutes, type RecentSeries } from '../metrics/recent.js';
import type { JSONValue } from '../values/value.js';
import { dashboardAsset } from './assets.js';
import { functionRows, routeRows } from './catalog.js';
import { deleteDocument, document, documents, downloadFile, files, tables } from './data-views.js';
import { keepLogHistory, type HistoryPart } from './log-history.js';
import { clearedCookie, dashboardDevMode, DASHBOARD_PATH, equal, hasSession, isLoopbackVisit, isSecure, sessionCookie } from './session.js';

// /_portico/dashboard: one page (plain modules, no framework, no build
// step, nothing from another origin) and the JSON it reads. Access:
//  - with api.adminKey: a login form takes the key and sets a session
//    cookie; every /api call needs that session;
//  - in `portico dev`, a visit from this machine needs nothing;
//  - otherwise (no admin key, not dev) there is no dashboard: 404.
// Calls that change something (run, delete, log in or out) also need the
// X-Portico-Dashboard header, which no other site's page can send without
// a CORS preflight this endpoint never grants.

/** Strict: only this origin's own script and style, no inline code, no framing. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const SECURITY_HEADERS = ['content-security-policy', CSP, 'x-content-type-options', 'nosniff', 'referrer-policy', 'no-referrer', 'x-frame-options', 'DENY', 'cache-control', 'no-store'];
const CHANGE_HEADER = 'x-portico-dashboard';

export interface DashboardParts {
  config: PorticoConfig;
  modules: LoadedModules;
  backend: FunctionBackend;
  /** The local database, null on a remote backend. */
  store: Store | null;
  storage: StorageService;
  health: { configHash: string; codeHash: string; backend: string };
}

export class DashboardMount implements Mount {
  private readonly adminKey: string | null;

  constructor(private readonly parts: DashboardParts) {
    this.adminKey = parts.config.api?.adminKey ?? null;
    keepLogHistory();
  }

  async handle(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Promise<number> {
    exchange.handler = '(dashboard)';
    const headers = [...answerHeaders(exchange), ...SECURITY_HEADERS];
    const path = req.url!.split('?')[0]!;
    const open = dashboardDevMode() && isLoopbackVisit(req);
    try {
      if (!open && this.adminKey === null) throw new GatewayError('NotFound', `No such endpoint: ${path}`);
      const rest = path === DASHBOARD_PATH ? '/' : path.slice(DASHBOARD_PATH.length);
      if (req.method === 'GET' || req.method === 'HEAD') {
        const asset = dashboardAsset(rest);
        if (asset) {
          writeHeadSafely(res, 200, [...headers, 'content-type', asset.type, 'content-length', String(asset.body.length)]);
          res.end(req.method === 'HEAD' ? undefined : asset.body);
          return 200;
        }
      }
      if (!rest.startsWith('/api/')) throw new GatewayError('NotFound', `No such endpoint: ${path}`);
      const endpoint = rest.slice('/api/'.length);
      if (req.method === 'POST' && req.headers[CHANGE_HEADER] !== '1') throw new GatewayError('Forbidden', `Changes need the ${CHANGE_HEADER} header`);
      if (endpoint === 'login' && req.method === 'POST') return await this.login(req, res, headers);
      if (endpoint === 'logout' && req.method === 'POST') {
        writeEmpty(res, 204, [...headers, 'set-cookie', clearedCookie(isSecure(req))]);
        return 204;
      }
      if (!open && !hasSession(req, this.adminKey!)) throw new GatewayError('BadAdminKey', 'Log in with the admin key');
      return await this.api(endpoint, req, res, headers);
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      writeGatewayError(res, error, headers);
      return error.status;
    }
  }

  private async login(req: IncomingMessage, res: ServerResponse, headers: string[]): Promise<number> {
    const body = (await readJsonBody(req, res)) as { key?: unknown } | null;
    const key = typeof body?.key === 'string' ? body.key : '';
    if (this.adminKey === null || !equal(key, this.adminKey)) throw new GatewayError('BadAdminKey', 'That is not the admin key');
    writeEmpty(res, 204, [...headers, 'set-cookie', sessionCookie(this.adminKey, isSecure(req))]);
    return 204;
  }

  private async api(endpoint: string, req: IncomingMessage, res: ServerResponse, headers: string[]): Promise<number> {
    const url = new URL(req.url!, 'http://dashboard');
    const query = (name: string) => url.searchParams.get(name);
    const send = (value: unknown) => {
      writeJson(res, 200, value, headers);
      return 200;
    };
    const { config, modules } = this.parts;
    switch (`${req.method} ${endpoint}`) {
      case 'GET session':
        return send({ dev: dashboardDevMode(), loggedIn: true });
      case 'GET overview':
        return send({ routes: routeRows(config), functions: functionRows(modules), health: await this.health() });
      case 'GET charts': {
        const parts = await gather<{ functions: RecentSeries[]; routes: RecentSeries[] }>('dashboard:recent');
        return send({ functions: chartsOf(parts.map((p) => p.functions)), routes: chartsOf(parts.map((p) => p.routes)) });
      }
      case 'GET logs': {
        const cursor = parseCursor(query('cursor'));
        const parts = await gather<HistoryPart>('dashboard:logs', cursor);
        const next: Record<string, number> = { ...cursor };
        const lines: string[] = [];
        for (const part of parts) {
          next[part.pid] = part.last;
          lines.push(...part.lines);
        }
        // Workers' lines interleaved by time (each line starts {"level":N,"time":T).
        if (parts.length > 1) lines.sort((a, b) => timeOf(a) - timeOf(b));
        return send({ cursor: JSON.stringify(next), lines });
      }
      case 'POST run':
        return send(await this.run(req, res));
      case 'GET tables':
        return send(await tables(this.needStore()));
      case 'GET documents': {
        const table = query('table') ?? '';
        const equalTo = parseJson(query('eq') ?? '[]');
        if (!Array.isArray(equalTo)) throw new GatewayError('BadRequest', 'eq must be a JSON array');
        return send(await documents(this.needStore(), table, query('index') || null, equalTo, query('cursor') || null));
      }
      case 'GET document': {
        const found = await document(this.needStore(), query('id') ?? '');
        if (!found) throw new GatewayError('NotFound', 'No such document');
        return send(found);
      }
      case 'POST document/delete': {
        const body = (await readJsonBody(req, res)) as { id?: unknown };
        return send({ deleted: await deleteDocument(this.needStore(), String(body?.id ?? '')) });
      }
      case 'GET files':
        return send(await files(this.needStore(), query('cursor') || null));
      case 'GET files/download':
        return downloadFile(this.parts.storage, query('id') ?? '', res, headers);
      case 'POST files/delete': {
        const body = (await readJsonBody(req, res)) as { id?: unknown };
        return send({ deleted: await this.parts.storage.delete(String(body?.id ?? '')) });
      }
      default:
        throw new GatewayError('NotFound', `No such endpoint: ${DASHBOARD_PATH}/api/${endpoint}`);
    }
  }

  /** Runs a query, mutation or action as the admin, with its console lines. */
  private async run(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const body = (await readJsonBody(req, res)) as { kind?: unknown; name?: unknown; args?: unknown };
    const kind = body?.kind;
    if (kind !== 'query' && kind !== 'mutation' && kind !== 'action') throw new GatewayError('BadRequest', 'kind must be query, mutation or action');
    if (typeof body.name !== 'string') throw new GatewayError('BadRequest', 'name must be a function name');
    const requestId = `dashboard-${Date.now().toString(36)}`;
    return this.parts.backend.call({
      kind,
      name: body.name,
      args: (body.args ?? {}) as JSONValue,
      caller: { identity: ANONYMOUS, internal: true, requestId, collectLogs: true },
    });
  }

  private async health(): Promise<unknown> {
    const reloads = (await gather<string[]>('dashboard:reloads')).flat();
    reloads.sort((a, b) => timeOf(a) - timeOf(b));
    const { config } = this.parts;
    return {
      ...this.parts.health,
      uptimeSeconds: Math.round(process.uptime()),
      pid: process.pid,
      storage: config.storage.kind === 'fs' ? `fs (${config.storage.dir})` : config.storage.kind,
      routes: config.routes.length,
      functions: this.parts.modules.functions.size,
      configFile: config.file,
      reloads,
    };
  }

  private needStore(): Store {
    if (!this.parts.store) throw new GatewayError('NotFound', 'The Data and Files views need a local backend');
    return this.parts.store;
  }
}

// The dashboard's charts read every worker's recent stats.
answerGather('dashboard:recent', () => ({ functions: recentFunctions.snapshot(), routes: recentRoutes.snapshot() }));

function parseCursor(text: string | null): Record<string, number> {
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return {};
    return Object.fromEntries(Object.entries(parsed).filter(([, value]) => typeof value === 'number')) as Record<string, number>;
  } catch {
    return {};
  }
}

function timeOf(line: string): number {
  const at = line.indexOf('"time":');
  return at === -1 ? 0 : Number.parseInt(line.slice(at + 7, at + 21), 10);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('BadRequest', 'eq must be a JSON array');
  }
}
