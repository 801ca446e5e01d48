// Generated configs for the routing, start-up, upload and leak scenarios. They reuse the
// bench app's function modules (the same handlers answer every route).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * `size` routes, half static (/api/v1/resN) and half with a parameter
 * (/api/v1/resN/:id), so the table is what a real API looks like: the first
 * route is static, the last has a parameter.
 */
function routes(size) {
  const lines = [];
  for (let i = 0; i < size; i++) {
    const path = i % 2 === 0 ? `/api/v1/res${i}` : `/api/v1/res${i}/:id`;
    lines.push(`  - { path: ${path}, method: GET, handler: "bench:hello" }`);
  }
  return lines.join('\n');
}

/** Writes `<work>/<name>/routes.yaml` over the bench app's functions; returns the directory. */
function writeProject(work, name, functionsDir, body) {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  const header = `version: 1
functions: ${JSON.stringify(path.relative(dir, functionsDir))}
backend: { kind: local, database: ./.data/bench.sqlite }
storage: { kind: fs, dir: ./.data/storage }
`;
  writeFileSync(path.join(dir, 'routes.yaml'), header + body);
  return dir;
}

function project(work, name, functionsDir, size) {
  return writeProject(
    work,
    name,
    functionsDir,
    `# The function API is mounted elsewhere, so /api/v1/... is free for routes.
api: { prefix: /_functions }
cors:
  origins: ["http://localhost:5173"]
routes:
${routes(size)}
`,
  );
}

export const routingProject = (work, functionsDir, size) => project(work, `routes-${size}`, functionsDir, size);

/** A fresh server for the upload scenario, so nothing earlier scenarios left behind skews its memory. */
export function uploadProject(work, functionsDir) {
  return writeProject(
    work,
    'upload',
    functionsDir,
    `limits: { body: 64mb }
routes:
  - { path: /upload, method: POST, handler: "bench:upload" }
  - { path: /upload-url, method: GET, handler: "bench:uploadUrl" }
`,
  );
}

export const startupProject = (work, functionsDir, size) => project(work, `startup-${size}`, functionsDir, size);

/**
 * The bench app's routes.yaml copied into `<work>/<name>.yaml` with its own
 * database and storage under `<work>/<name>-data`: a server that writes to
 * it leaves the app's database (the one the query scenarios read) alone.
 */
export function appCopy(appDir, work, name) {
  const dataDir = path.join(work, `${name}-data`);
  const source = readFileSync(path.join(appDir, 'routes.yaml'), 'utf8')
    .replace('functions: ./functions', `functions: ${path.join(appDir, 'functions')}`)
    .replace('./.data/bench.sqlite', path.join(dataDir, 'bench.sqlite'))
    .replace('./.data/storage', path.join(dataDir, 'storage'));
  const file = path.join(work, `${name}.yaml`);
  writeFileSync(file, source);
  return file;
}
