import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Io } from './command.js';

// A command run where there is no routes.yaml is most often a first try in
// an empty folder: say how to start a project, not just "not found".

/** The message to print when `configFile` does not exist, else null. */
export async function configMissing(configFile: string, io: Io): Promise<string | null> {
  try {
    await stat(configFile);
    return null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return null;
  }
  const shown = path.relative(io.cwd, configFile) || configFile;
  // A Convex project has its functions and router in convex/ and no routes.yaml.
  const convex = await stat(path.join(path.dirname(configFile), 'convex')).then((found) => found.isDirectory(), () => false);
  return (
    `portico: no ${shown} here (${path.dirname(configFile)}).\n` +
    (convex ? `  A Convex project:    portico <command> --convex ./convex   (its functions and http.ts router, no routes.yaml)\n` : '') +
    `  Start a project:     npx portico init         (writes routes.yaml, functions/ and package.json)\n` +
    `  Or name the config:  portico <command> path/to/routes.yaml\n`
  );
}
