import path from 'node:path';
import pino from 'pino';
import { formatText } from '../../src/config/diagnostics.js';
import { installConsoleCapture } from '../../src/log/console-capture.js';
import { checkProject } from '../../src/server/check-project.js';
import { buildBackend } from '../../src/server/generation.js';
import { SharedResources } from '../../src/server/resources.js';
import { makeProject, removeProject } from '../helpers/project.js';
import type { BackendHarness } from './backend-contract.js';

// The local backend of a project, built in this process the way the server
// builds it (checkProject, then buildBackend), with console capture on so
// that logLines are collected.

export async function openLocalBackend(database: string, files: Record<string, string>): Promise<BackendHarness> {
  const dir = await makeProject({
    'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: "${database}" }
storage: { kind: fs, dir: ./.data/storage }
routes: []
`,
    ...files,
  });
  const logger = pino({ level: 'silent' });
  installConsoleCapture(logger);
  const resources = new SharedResources(logger);
  let backend;
  try {
    const check = await checkProject(path.join(dir, 'routes.yaml'), { env: {} });
    if (!check.config || !check.modules) throw new Error(`the test project is not valid:\n${formatText(check.diagnostics)}`);
    ({ backend } = await buildBackend(check.config, check.modules, resources, { value: 'http://127.0.0.1:1' }));
  } catch (error) {
    await resources.close();
    await removeProject(dir);
    throw error;
  }
  return {
    backend,
    async close() {
      await backend.close();
      await resources.close();
      await removeProject(dir);
    },
  };
}
