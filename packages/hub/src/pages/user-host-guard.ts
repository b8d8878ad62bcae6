import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isUserHost, type SubdomainHost } from '../subdomain-host.js';

/**
 * With subdomain_host the proxy's catch-all route sends every host to the hub, a user's host whose
 * server is not running included. The hub never answers there itself: its pages and API on a
 * user's origin would share that origin with the user's own pages. Page requests are sent to the
 * same URL on the hub's host (where /user/NAME/ leads to the spawn page); anything else gets 403.
 */
export function userHostGuard(app: FastifyInstance, opts: { subdomain: SubdomainHost; apiPrefix: string; log: Logger }): void {
  const { subdomain, apiPrefix } = opts;
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    if (!isUserHost(subdomain, host)) return;
    const isApi = req.url === apiPrefix || req.url.startsWith(`${apiPrefix}/`) || req.url.startsWith(`${apiPrefix}?`);
    if ((req.method === 'GET' || req.method === 'HEAD') && !isApi) {
      return reply.redirect(`${subdomain.origin}${req.url}`, 302);
    }
    opts.log.info({ host, method: req.method, path: req.url.split('?')[0] }, "refused a hub request on a user's host");
    const message = `The hub answers at ${subdomain.origin}, not on a user's host (${host}).`;
    return reply.code(403).type('application/json').send({ status: 403, message });
  });
}
