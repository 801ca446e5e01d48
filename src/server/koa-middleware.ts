import type Koa from 'koa';
import type { GatewayHolder, InFlight } from './http-host.js';

/**
 * Portico as a Koa middleware, for mounting a gateway in an existing Koa app.
 * It answers every request it is given (put routing middleware in front of
 * it to give it a part of the app), and reads the holder's current Gateway
 * once per request, so reloads stay atomic.
 *
 * @example
 * const portico = await Runtime.create({ configFile: 'routes.yaml' });
 * app.use(mount('/gateway', portico.koaMiddleware()));
 */
export function porticoMiddleware(holder: GatewayHolder, tracker?: InFlight): Koa.Middleware {
  return function portico(ctx) {
    // The gateway writes to the Node response itself.
    ctx.respond = false;
    tracker?.begin();
    const handled = holder.current.handle(ctx.req, ctx.res);
    if (!handled) {
      tracker?.end();
      return Promise.resolve();
    }
    return tracker ? handled.finally(tracker.end) : handled;
  };
}
