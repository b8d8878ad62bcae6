import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const oauthAuthenticator: AuthenticatorPlugin = {
  kind: 'oauth',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'oauth' kind is not built yet.");
  },
};
