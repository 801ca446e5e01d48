import type { TestContext } from 'node:test';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { ADMIN_KEY, ROUTES, type StorageHarness } from './storage-contract.js';

// Real gateways for the storage contract: one project, its `backend` and
// `storage` lines given by each implementation's test file.

export function projectYaml(backend: string, storage: string): string {
  return `version: 1
functions: ./functions
backend: ${backend}
storage: ${storage}
api: { adminKey: ${ADMIN_KEY} }
routes:
${ROUTES}
`;
}

/** A gateway for `yaml` and `files`; everything it made is removed by close(). */
export async function gatewayFor(yaml: string, files: Record<string, string>): Promise<{ gateway: RunningGateway; close(): Promise<void> }> {
  const dir = await makeProject({ 'routes.yaml': yaml, ...files });
  const gateway = await startGateway(dir, { timeoutMs: 60_000 }).catch(async (error) => {
    await removeProject(dir);
    throw error;
  });
  return {
    gateway,
    async close() {
      await gateway.stop();
      await removeProject(dir);
    },
  };
}

export async function localHarness(_t: TestContext, files: Record<string, string>, backend: string, storage: string): Promise<StorageHarness> {
  const { gateway, close } = await gatewayFor(projectYaml(backend, storage), files);
  return { url: gateway.url, port: gateway.port, close };
}
