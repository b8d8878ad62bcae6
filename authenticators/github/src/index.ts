import { HubError, type AuthenticatorPlugin, type SpawnerPlugin } from '@tshub/plugin-api';

/** Placeholder until the kind is built: refuses to create. */
export const githubAuthenticator: AuthenticatorPlugin = {
  kind: 'github',
  configSchema: {},
  create() {
    throw new HubError(500, "The 'github' kind is not built yet.");
  },
};
