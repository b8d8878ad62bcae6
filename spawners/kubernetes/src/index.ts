import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const kubernetesSpawner: SpawnerPlugin = {
  kind: 'kubernetes',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'kubernetes' kind is not built yet.");
  },
};
