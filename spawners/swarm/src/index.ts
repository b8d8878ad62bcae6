/**
 * @tshub/spawner-swarm: SwarmSpawner. One Docker service per user server on a Swarm, host networking,
 * placement constraints, limits and reservations, task states as spawn progress, pre-pull on every node.
 */
import type { SpawnerPlugin } from '@tshub/plugin-api';
import { swarmConfigSchema, type SwarmConfig } from './config.js';
import { SwarmShared } from './swarm-shared.js';
import { SwarmSpawner } from './swarm-spawner.js';

export const swarmSpawner: SpawnerPlugin<SwarmConfig, SwarmShared> = {
  kind: 'swarm',
  configSchema: swarmConfigSchema,
  openShared: ({ config, log }) => SwarmShared.open(config, log),
  create: (ctx) => new SwarmSpawner(ctx),
};

export { SwarmShared, SwarmSpawner, swarmConfigSchema };
export type { SwarmConfig, SwarmPullPolicy } from './config.js';
export { buildServiceSpec, LABEL_SPAWNER, LABEL_USER, LABEL_SERVER } from './service-spec.js';
export { LABEL_PREPULL } from './prepull.js';
