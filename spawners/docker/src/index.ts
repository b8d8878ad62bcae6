/**
 * @tshub/spawner-docker: user servers as Docker containers (JupyterHub's DockerSpawner and
 * SystemUserSpawner). spawners/swarm builds on the exports below.
 */
import type { SpawnerPlugin } from '@tshub/plugin-api';
import { dockerConfigSchema, systemUserConfigSchema, type DockerSpawnerConfig, type SystemUserDockerConfig } from './config.js';
import { DockerSpawner, dockerPersonal } from './docker-spawner.js';
import { openDockerShared, type DockerShared } from './shared.js';
import { systemUserPersonal } from './system-user.js';

/** `kind: docker` (alias dockerspawner). */
export const dockerSpawner: SpawnerPlugin<DockerSpawnerConfig, DockerShared> = {
  kind: 'docker',
  configSchema: dockerConfigSchema,
  openShared: openDockerShared,
  create: (ctx) => new DockerSpawner(ctx, dockerPersonal),
};

/** `kind: system-user-docker` (alias systemuserspawner): containers run as the host account with its home. */
export const systemUserDockerSpawner: SpawnerPlugin<SystemUserDockerConfig, DockerShared> = {
  kind: 'system-user-docker',
  configSchema: systemUserConfigSchema,
  openShared: openDockerShared,
  create: (ctx) => new DockerSpawner(ctx, systemUserPersonal),
};

export { DockerSpawner, dockerPersonal, demux, type Personal, type Personalize } from './docker-spawner.js';
export { DockerShared, openDockerShared, configProblems } from './shared.js';
export { ensureImage, imagePresent, pullImage, PullProgress, type PullEvent } from './image-pull.js';
export { buildCreateOptions, buildMounts, bindString, templateFields, mergeEngine, engineKey, templateDeep, isValidContainerName, type Mount, type CreateInput } from './create-options.js';
export { resolveSettings, dockerConfigSchema, systemUserConfigSchema, DEFAULT_IMAGE, DEFAULT_NAME_TEMPLATE, DEFAULT_VOLUME_NAME, DEFAULT_NOTEBOOK_DIR } from './config.js';
export type { DockerSpawnerConfig, SystemUserDockerConfig, DockerSettings, PullPolicy, VolumeTarget } from './config.js';
export { engineMessage, statusOf, ignoringGone } from './docker-errors.js';
export { lookupHostAccount, parsePasswdLine, systemUserPersonal, type HostAccount } from './system-user.js';
