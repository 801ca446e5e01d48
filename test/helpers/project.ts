import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Throwaway projects (a routes.yaml and its functions/) for tests. They live
// under test/.work inside the repository, so `import ... from 'jose'` in a
// test's function module resolves from the repository's node_modules, as it
// would in a user's project.

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = path.join(ROOT, 'test', '.work');

/** Writes `files` (relative path → contents) into a fresh project folder. */
export async function makeProject(files: Record<string, string>): Promise<string> {
  await mkdir(WORK, { recursive: true });
  const dir = await mkdtemp(path.join(WORK, 'project-'));
  await writeProject(dir, files);
  return dir;
}

export async function writeProject(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, contents] of Object.entries(files)) {
    const file = path.join(dir, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, contents);
  }
}

export async function removeProject(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A routes.yaml with SQLite and fs storage inside the project, plus `extra` YAML and routes. */
export function routesYaml(routes: string, extra = ''): string {
  return `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
${extra}
routes:
${routes}
`;
}
