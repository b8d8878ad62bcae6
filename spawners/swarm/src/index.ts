import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const swarmSpawner: SpawnerPlugin = {
  kind: 'swarm',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'swarm' kind is not built yet.");
  },
};
