import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const casAuthenticator: AuthenticatorPlugin = {
  kind: 'cas',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'cas' kind is not built yet.");
  },
};
