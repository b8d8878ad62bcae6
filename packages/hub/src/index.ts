/** The hub's public surface: for the CLI, tests and embedding. */
export { buildHub, normalizeBaseUrl, type Hub, type BuildHubOptions } from './build-hub.js';
export type { StartOptions, StartedHub } from './start-hub.js';
export { validateConfig, type ConfigResult } from './config/validate-config.js';
export { findConfigFile, readConfigFile } from './config/load-config.js';
export type { TshubConfig } from './config/schema.js';
export { defaultRegistry, type Registry } from './registry.js';
export type { HubContext } from './hub-context.js';
export { JUPYTERHUB_VERSION } from './hub-context.js';
export { isoformat, parseTimestamp } from './isoformat.js';
