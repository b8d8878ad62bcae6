import type { FastifyInstance } from 'fastify';
import type { ApiEnv } from './api-env.js';

/** /hub/api/groups... (to be written). */
export async function groupRoutes(_app: FastifyInstance, _env: ApiEnv): Promise<void> {}
