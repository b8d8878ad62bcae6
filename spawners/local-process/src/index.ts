/**
 * @tshub/spawner-local-process: servers as local processes.
 * - `simple` (SimpleLocalProcessSpawner): every server runs as the hub's own account; for trials and tests.
 * - `local-process` (LocalProcessSpawner): each server runs as the user's Unix account; the hub runs as root.
 */
export { simpleSpawner, planSimpleLaunch } from './simple-spawner.js';
export { localProcessSpawner, planSystemUserLaunch } from './local-process-spawner.js';
export { LocalProcessServer } from './local-process-server.js';
export type { LaunchPlan, PlanLaunch } from './local-process-server.js';
export { readLogTail, TAIL_LINES } from './log-file.js';
export { simpleConfigSchema, localProcessConfigSchema } from './config.js';
export type { ProcessSpawnerConfig, SimpleSpawnerConfig, LocalProcessSpawnerConfig } from './config.js';
