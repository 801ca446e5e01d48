import type { Context, Next } from 'koa';

/** A Koa middleware that does nothing but pass the request on: the cost of the seam itself. */
export default async function noop(_ctx: Context, next: Next) {
  await next();
}
