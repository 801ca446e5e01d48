import { Pool } from 'undici';

// Keep-alive connection pools, one per upstream origin, shared by every
// route and every configuration generation that forwards there: a reload
// keeps the warm connections. undici unreferences idle sockets, so pools
// never hold the process open.

const pools = new Map<string, Pool>();

export function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (pool === undefined) {
    pool = new Pool(origin, {
      // Idle connections are closed before a typical upstream (Node: 5 s) does.
      keepAliveTimeout: 4_000,
      connect: { timeout: 5_000 },
    });
    pools.set(origin, pool);
  }
  return pool;
}
