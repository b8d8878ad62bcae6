import type { FastifyInstance } from 'fastify';
import type { ApiEnv } from './api-env.js';

/** /hub/api/proxy and /hub/api/shutdown (to be written). */
export async function hubRoutes(_app: FastifyInstance, _env: ApiEnv): Promise<void> {}
