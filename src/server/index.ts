// `portico/server`: running a gateway from code, e.g. inside a Koa app.
//
//   import { Runtime } from 'portico/server';
//   const portico = await Runtime.create({ configFile: 'routes.yaml' });
//   app.use(portico.koaMiddleware());

export { Runtime, ProjectError, StartupError, type StartOptions, type ReloadResult } from './runtime.js';
export { porticoMiddleware } from './koa-middleware.js';
export type { GatewayHolder } from './http-host.js';
