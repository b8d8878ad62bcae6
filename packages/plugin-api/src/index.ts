export type { JsonValue, JsonObject, JsonSchema } from './json.js';
export { HubError, SpawnError } from './errors.js';
export type { PluginLogger } from './logger.js';
export type {
  Spawner,
  SpawnerPlugin,
  SpawnContext,
  SpawnUser,
  SpawnerCommonConfig,
  PollResult,
  ProgressEvent,
  PrePullProgress,
  SpawnerShared,
} from './spawner.js';
export type {
  Authenticator,
  AuthenticatorPlugin,
  AuthContext,
  AuthModel,
  LoginInput,
  PluginStore,
} from './authenticator.js';
export type { AccountManager } from './accounts.js';
export { formatTemplate, escapeUsername } from './template.js';
export { ProgressQueue } from './progress-queue.js';
export { lookupSystemAccount, parsePasswdLine, isValidUnixName, UNIX_NAME } from './system-account.js';
export type { SystemAccount } from './system-account.js';
export { findFreePort, reservePort, releasePort } from './ports.js';
