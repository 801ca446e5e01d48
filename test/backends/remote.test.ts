import { RemoteBackend } from '../../src/backends/remote/remote-backend.js';
import { startGateway } from '../helpers/gateway.js';
import { makeProject, removeProject } from '../helpers/project.js';
import { backendContract } from './backend-contract.js';

// The FunctionBackend contract on the remote backend, pointed at a second,
// real Portico instance (the function tier) that runs the functions on its
// own SQLite database and is reached through its function API with the
// admin key.

const ADMIN_KEY = 'contract-admin-key-0123456789';

backendContract('remote, in front of a real Portico instance', async (_t, files) => {
  const dir = await makeProject({
    'routes.yaml': `version: 1
functions: ./functions
backend: { kind: local, database: ./.data/db.sqlite }
storage: { kind: fs, dir: ./.data/storage }
api: { adminKey: ${ADMIN_KEY} }
routes: []
`,
    ...files,
  });
  const tier = await startGateway(dir).catch(async (error) => {
    await removeProject(dir);
    throw error;
  });
  return {
    backend: new RemoteBackend(tier.url, ADMIN_KEY),
    async close() {
      await tier.stop();
      await removeProject(dir);
    },
  };
});
