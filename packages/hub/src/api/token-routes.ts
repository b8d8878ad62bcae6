import type { FastifyInstance } from 'fastify';
import type { ApiEnv } from './api-env.js';

/** /hub/api/users/:name/tokens... (to be written). */
export async function tokenRoutes(_app: FastifyInstance, _env: ApiEnv): Promise<void> {}
