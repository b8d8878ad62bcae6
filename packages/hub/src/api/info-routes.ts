import type { FastifyInstance } from 'fastify';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

/** GET /hub/api (version, unauthenticated), /hub/api/info, /hub/api/health. */
export async function infoRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  app.get('/', async (_req, reply) => {
    reply.header('Access-Control-Allow-Origin', '*');
    return { version: hub.version };
  });
  app.get('/info', async (req) => {
    const who = await apiCaller(env, req);
    await requireScopes(who.identity, ['read:hub'], {});
    return {
      version: hub.version,
      python: null,
      sys_executable: process.execPath,
      tshub: { node: process.version },
      spawner: { class: hub.config.spawner.kind, version: hub.version },
      authenticator: { class: hub.authenticatorKind, version: hub.version },
    };
  });
  const health = async () => '';
  app.get('/health', health);
}
