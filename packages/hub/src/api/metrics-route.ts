import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';
import type { RequestAuth } from '../auth/request-auth.js';
import type { HubMetrics } from '../services/metrics.js';
import { apiCaller, requireScopes } from './api-env.js';

export interface MetricsRouteEnv {
  readonly hub: HubContext;
  readonly auth: RequestAuth;
  readonly metrics: HubMetrics;
}

/**
 * GET `<hubPrefix>metrics` and `<hubPrefix>api/metrics`: the Prometheus exposition text. Needs
 * `read:metrics` (a token or the login cookie) unless `hub.authenticate_prometheus` is false; a
 * refusal is the API's 403 JSON, whichever of the two URLs was asked.
 */
export async function metricsRoute(app: FastifyInstance, env: MetricsRouteEnv): Promise<void> {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    if (env.hub.config.hub.authenticate_prometheus) {
      try {
        const who = await apiCaller(env, req);
        await requireScopes(who.identity, ['read:metrics'], {});
      } catch (err) {
        if (!(err instanceof HubError)) throw err;
        return reply.code(err.status).type('application/json').send({ status: err.status, message: err.message });
      }
    }
    const text = await env.metrics.metrics();
    return reply.header('Cache-Control', 'no-store').type(env.metrics.contentType).send(text);
  };
  app.get(`${env.hub.urls.hubPrefix}metrics`, handler);
  app.get(`${env.hub.urls.hubPrefix}api/metrics`, handler);
}
