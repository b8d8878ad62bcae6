import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const dockerSpawner: SpawnerPlugin = {
  kind: 'docker',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'docker' kind is not built yet.");
  },
};

/** Placeholder until the kind is built: refuses to create. */
export const systemUserDockerSpawner: SpawnerPlugin = {
  kind: 'system-user-docker',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'system-user-docker' kind is not built yet.");
  },
};
