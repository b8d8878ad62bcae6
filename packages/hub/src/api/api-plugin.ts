import type { FastifyError, FastifyInstance } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import type { PageRenderer } from '../pages/page-renderer.js';
import type { ApiEnv } from './api-env.js';
import { activityRoutes } from './activity-routes.js';
import { activityReportRoutes } from './activity-report-routes.js';
import { infoRoutes } from './info-routes.js';
import { serverRoutes } from './server-routes.js';
import { whoamiRoutes } from './whoami-routes.js';
import { userRoutes } from './user-routes.js';
import { oauthRoutes } from '../oauth/oauth-routes.js';
import { groupRoutes } from './group-routes.js';
import { legacyRoutes } from './legacy-routes.js';
import { serviceRoutes } from './service-routes.js';
import { tokenRoutes } from './token-routes.js';
import { shareRoutes } from './share-routes.js';
import { hubRoutes, type ShutdownRequest } from './hub-routes.js';
import { imageRoutes } from './image-routes.js';

/**
 * Everything under /hub/api, in its own encapsulated scope whose errors are always JupyterHub's
 * `{"status": N, "message": "..."}` JSON — Fastify's own error shape never reaches a client.
 */
export async function apiPlugin(app: FastifyInstance, env: ApiEnv & { pages: PageRenderer; shutdown: ShutdownRequest }): Promise<void> {
  app.addHook('onSend', async (_req, reply, payload) => {
    const csp = reply.getHeader('content-security-policy');
    if (!csp) reply.header('Content-Security-Policy', "frame-ancestors 'self'; report-uri " + env.hub.urls.hubPrefix + "security/csp-report; default-src 'none'");
    return payload;
  });
  app.setErrorHandler((err: FastifyError | HubError, req, reply) => {
    let status = 500;
    let message = 'Internal server error. The hub log has details.';
    if (err instanceof HubError) {
      status = err.status;
      message = err.message;
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      if (err.logMessage) env.hub.log.warn({ url: req.url }, err.logMessage);
    } else if (err.validation) {
      status = 400;
      message = `Invalid request: ${err.message}`;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      message = status === 413 ? 'Request body too large' : status === 415 ? 'Unsupported content type' : err.message;
    } else {
      env.hub.log.error({ err, url: req.url, method: req.method }, 'API request failed');
    }
    if (status >= 500 && err instanceof HubError && status !== 500) env.hub.log.warn({ url: req.url, status }, message);
    return reply.code(status).type('application/json').send({ status, message });
  });
  const notFound = (req: { method: string; url: string }, reply: import('fastify').FastifyReply) =>
    reply.code(404).type('application/json').send({ status: 404, message: `Not found: ${req.method} ${req.url.split('?')[0]}` });
  app.setNotFoundHandler(notFound);
  // The pages' catch-all would otherwise answer unknown API paths with HTML.
  app.all('/*', async (req, reply) => notFound(req, reply));

  await infoRoutes(app, env);
  await whoamiRoutes(app, env);
  await userRoutes(app, env);
  await serverRoutes(app, env);
  await activityRoutes(app, env);
  await activityReportRoutes(app, env);
  await imageRoutes(app, env);
  await oauthRoutes(app, env);
  await groupRoutes(app, env);
  await legacyRoutes(app, env);
  await serviceRoutes(app, env);
  await tokenRoutes(app, env);
  await shareRoutes(app, env);
  await hubRoutes(app, env);
}
