import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { pageRequest, pageResponse } from './pagination.js';

export type ShutdownRequest = (opts: { servers?: boolean; proxy?: boolean }) => void;

/** /hub/api/proxy (read, reconcile, re-point) and /hub/api/shutdown. */
export async function hubRoutes(app: FastifyInstance, env: ApiEnv & { shutdown: ShutdownRequest }): Promise<void> {
  const { hub } = env;

  app.get('/proxy', async (req) => {
    const { identity } = await apiCaller(env, req);
    await requireScopes(identity, ['proxy'], {});
    const page = pageRequest(req, hub.config.hub);
    const routes = await hub.routes.client.getRoutes();
    const keys = [...routes.keys()].sort();
    const slice = keys.slice(page.offset, page.offset + page.limit).map((k) => {
      const r = routes.get(k)!;
      return { routespec: k, target: r.target, data: r.data };
    });
    const body = pageResponse(req, page, slice, keys.length);
    return Array.isArray(body) ? Object.fromEntries(body.map((r) => [r.routespec, r])) : body;
  });

  app.post('/proxy', async (req) => {
    const { identity } = await apiCaller(env, req);
    await requireScopes(identity, ['proxy'], {});
    await hub.routes.reconcile();
    return {};
  });

  app.patch('/proxy', async (req) => {
    const { identity } = await apiCaller(env, req);
    await requireScopes(identity, ['proxy'], {});
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be JSON dict');
    const { api_url, auth_token } = body as { api_url?: unknown; auth_token?: unknown };
    if (api_url !== undefined && (typeof api_url !== 'string' || !/^https?:\/\/[^\s]+$/.test(api_url))) throw badRequest('api_url must be an http(s) URL');
    if (auth_token !== undefined && typeof auth_token !== 'string') throw badRequest('auth_token must be a string');
    hub.routes.client.setCredentials({ ...(api_url ? { apiUrl: api_url.replace(/\/$/, '') } : {}), ...(auth_token !== undefined ? { authToken: auth_token } : {}) });
    await hub.routes.reconcile();
    return {};
  });

  app.post('/shutdown', async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    await requireScopes(identity, ['shutdown'], {});
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Request body must be JSON dict');
    for (const k of ['proxy', 'servers'] as const) {
      if (body[k] !== undefined && typeof body[k] !== 'boolean') throw badRequest(`${k} must be true or false`);
    }
    hub.log.warn({ by: identity.name, servers: body.servers, proxy: body.proxy }, 'shutdown requested through the API');
    env.shutdown({ ...(typeof body.servers === 'boolean' ? { servers: body.servers } : {}), ...(typeof body.proxy === 'boolean' ? { proxy: body.proxy } : {}) });
    return reply.code(202).send({ message: 'Shutting down Hub' });
  });
}
