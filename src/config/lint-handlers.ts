// Handler checks. Loading user modules is not the config loader's business,
// so the check itself is injected; this only fans it out and places results.
import { isRecord, type Unknown } from './raw.js';
import type { Reporter } from './source.js';

export type HandlerRule = 'handler/missing-module' | 'handler/missing-export' | 'handler/not-http-action';

export interface HandlerProblem {
  rule: HandlerRule;
  message: string;
}

/** Resolves to null when `handler` names an httpAction inside `functionsDir`. */
export type InspectHandler = (handler: string, functionsDir: string) => Promise<HandlerProblem | null>;

/**
 * Inspects each distinct handler once, all in parallel, and reports a problem
 * at the `handler` of every route naming it. Handlers the schema already
 * refused are not inspected: they are not module names.
 */
export async function lintHandlers(data: Unknown, functionsDir: string, inspect: InspectHandler, report: Reporter): Promise<void> {
  if (!Array.isArray(data.routes)) return;
  const routesByHandler = new Map<string, number[]>();
  data.routes.forEach((route: unknown, index: number) => {
    if (!isRecord(route) || typeof route.handler !== 'string') return;
    if (report.isSuppressed(['routes', index, 'handler'])) return;
    const indexes = routesByHandler.get(route.handler) ?? [];
    indexes.push(index);
    routesByHandler.set(route.handler, indexes);
  });
  await Promise.all(
    [...routesByHandler].map(async ([handler, indexes]) => {
      let problem: HandlerProblem | null;
      try {
        problem = await inspect(handler, functionsDir);
      } catch (error) {
        const message = `cannot load handler '${handler}': ${error instanceof Error ? error.message : String(error)}`;
        for (const index of indexes) report.at('handler/inspect-failed', ['routes', index, 'handler'], message);
        return;
      }
      if (problem) for (const index of indexes) report.at(problem.rule, ['routes', index, 'handler'], problem.message);
    }),
  );
}
