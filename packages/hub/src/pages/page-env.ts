import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HubContext } from '../hub-context.js';
import type { RequestAuth, RequestIdentity } from '../auth/request-auth.js';
import type { PageRenderer } from './page-renderer.js';
import type { AdminSetup } from './admin-setup.js';

/** What page route modules receive. */
export interface PageEnv {
  readonly hub: HubContext;
  readonly auth: RequestAuth;
  readonly pages: PageRenderer;
  readonly adminSetup: AdminSetup;
  /** Login pipeline knob: local accounts without first-use passwords are allowed by having an account. */
  readonly implicitAllowAll: boolean;
}

/** The logged-in user of a page request, or a redirect to the login page (returns null then). */
export async function pageUser(env: PageEnv, req: FastifyRequest, reply: FastifyReply): Promise<RequestIdentity | null> {
  const who = await env.auth.identify(req, { allowToken: false });
  if (who) return who;
  await reply.redirect(`${env.hub.urls.hubPrefix}login?next=${encodeURIComponent(req.url)}`);
  return null;
}

export async function pageUserOrToken(env: PageEnv, req: FastifyRequest, reply: FastifyReply): Promise<RequestIdentity | null> {
  const who = await env.auth.identify(req, { allowToken: true });
  if (who) return who;
  await reply.redirect(`${env.hub.urls.hubPrefix}login?next=${encodeURIComponent(req.url)}`);
  return null;
}
