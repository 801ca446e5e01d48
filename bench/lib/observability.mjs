import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The `observability` scenario: the bench app twice, the same build, once
// with Prometheus metrics and the dashboard's log capture on (an admin key,
// so the dashboard exists and keeps its log history) and once with both
// off. Its ratio is on / off, measured in the same rounds.

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

/** Writes the two configs into `work`; returns their paths. */
export function observabilityConfigs(appDir, work) {
  const source = readFileSync(path.join(appDir, 'routes.yaml'), 'utf8').replace('functions: ./functions', `functions: ${path.join(appDir, 'functions')}`);
  const write = (name, extra) => {
    const file = path.join(work, `${name}.yaml`);
    const dataDir = path.join(work, `${name}-data`);
    writeFileSync(file, `${source.replace('./.data/bench.sqlite', path.join(dataDir, 'bench.sqlite')).replace('./.data/storage', path.join(dataDir, 'storage'))}\n${extra}\n`);
    return file;
  };
  return {
    on: write('observed', `api: { adminKey: ${ADMIN_KEY} }\nmetrics: true\ndashboard: true`),
    off: write('unobserved', `api: { adminKey: ${ADMIN_KEY} }\nmetrics: false\ndashboard: false`),
  };
}
