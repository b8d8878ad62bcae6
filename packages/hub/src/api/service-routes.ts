import type { FastifyInstance } from 'fastify';
import type { ApiEnv } from './api-env.js';

/** /hub/api/services... (to be written). */
export async function serviceRoutes(_app: FastifyInstance, _env: ApiEnv): Promise<void> {}
