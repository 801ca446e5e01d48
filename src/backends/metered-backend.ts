import { parseFunctionName } from '../functions/names.js';
import type { LoadedModules } from '../functions/loader.js';
import type { PorticoMetrics } from '../metrics/metrics.js';
import { recentFunctions } from '../metrics/recent.js';
import type { CallRequest, CallResult, FunctionBackend } from './function-backend.js';

// A function backend that counts and times every call (Prometheus metrics
// and the dashboard's charts), then passes it on unchanged. Names that are
// not functions of the project are counted as "(unknown)", so a client
// cannot grow the label set by calling made-up names.

export function meteredBackend(inner: FunctionBackend, modules: LoadedModules, metrics: PorticoMetrics): FunctionBackend {
  const known = new Map<string, { name: string; kind: string }>();
  const identify = (name: string, requested: string) => {
    let found = known.get(name);
    if (found === undefined) {
      let canonical: string | null = null;
      try {
        canonical = parseFunctionName(name).canonical;
      } catch {
        // Not a function name at all.
      }
      const fn = canonical === null ? undefined : modules.functions.get(canonical);
      found = fn ? { name: canonical!, kind: fn.kind } : { name: '(unknown)', kind: requested };
      if (fn) known.set(name, found);
    }
    return found;
  };
  const call = async (request: CallRequest): Promise<CallResult> => {
    const started = performance.now();
    const { name, kind } = identify(request.name, request.kind);
    const done = (outcome: 'success' | 'error' | 'unavailable') => {
      const ms = performance.now() - started;
      metrics.functionCall(name, kind, outcome, ms / 1000);
      if (name !== '(unknown)') recentFunctions.record(name, ms, outcome !== 'success');
    };
    try {
      const result = await inner.call(request);
      done(result.status);
      return result;
    } catch (error) {
      done('unavailable');
      throw error;
    }
  };
  return Object.create(inner, { call: { value: call } }) as FunctionBackend;
}
