import { ADMIN_KEY, storageContract } from './storage-contract.js';
import { gatewayFor, projectYaml } from './contract-harness.js';

// A gateway tier (backend.kind: remote) whose files live on a real function
// tier: ctx.storage in the tier's HTTP actions is RemoteStorage, and its
// /api/storage forwards to the function tier's.
storageContract('remote, in front of a function tier with fs storage on SQLite', async (_t, files) => {
  const tier = await gatewayFor(projectYaml('{ kind: local, database: ./.data/db.sqlite }', '{ kind: fs, dir: ./.data/storage }'), files);
  try {
    const front = await gatewayFor(projectYaml(`{ kind: remote, url: "${tier.gateway.url}", adminKey: ${ADMIN_KEY} }`, '{ kind: fs, dir: ./.data/storage }'), files);
    return {
      url: front.gateway.url,
      port: front.gateway.port,
      async close() {
        await front.close();
        await tier.close();
      },
    };
  } catch (error) {
    await tier.close();
    throw error;
  }
});
