import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthServices } from '../auth/auth-services.js';
import type { UserRow } from '../db/schema.js';
import { safeNext } from './safe-next.js';
import type { PageEnv } from './page-env.js';
import { browserProtocol } from '../auth/cookies.js';

/** The login machinery (auth_state, refresh_user, rate limits). */
export function authServices(env: PageEnv): AuthServices {
  return env.hub.loginServices;
}

/** Where a user goes after login: the saved `next` when it is safe, else the spawn or home page. */
export function afterLogin(env: PageEnv, next: unknown): string {
  const prefix = env.hub.urls.hubPrefix;
  return safeNext(typeof next === 'string' ? next : undefined, env.hub.urls.subdomain) ?? (env.hub.config.hub.redirect_to_server ? `${prefix}spawn` : `${prefix}home`);
}

/**
 * The origin the browser used: hub.public_url when configured, else the request's (Host, or
 * X-Forwarded-Proto/Host from the proxy in front, which fastify trusts from loopback only).
 */
export function requestOrigin(env: PageEnv, req: FastifyRequest): string {
  if (env.hub.urls.publicOrigin) return env.hub.urls.publicOrigin;
  // The browser's scheme, from the proxy's X-Forwarded-Proto (configurable-http-proxy appends its own hop).
  return `${browserProtocol(req)}://${req.host}`;
}

/** A 429 page for a throttled login, with Retry-After. */
export function tooManyAttempts(env: PageEnv, req: FastifyRequest, reply: FastifyReply, retryAfter: number): Promise<FastifyReply> {
  reply.header('Retry-After', String(retryAfter));
  const minutes = Math.ceil(retryAfter / 60);
  return env.pages.error(req, reply, 429, `Too many failed sign-in attempts. Wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`);
}

/** Session, bookkeeping and the redirect after a successful login (form and callback alike). */
export async function finishLogin(env: PageEnv, req: FastifyRequest, reply: FastifyReply, user: UserRow, keys: readonly string[], next: unknown): Promise<FastifyReply> {
  const services = authServices(env);
  await env.auth.startSession(reply, user.id);
  // Only the person's own name is cleared: clearing the address too would let someone with one account
  // reset their address's count between guesses at other people's passwords.
  services.limiter.succeed(keys.filter((k) => k.startsWith('u:')));
  services.refresher.markFresh(user.id);
  env.hub.log.info({ user: user.name }, 'user logged in');
  env.hub.events.emit('login', { user: user.name });
  return reply.redirect(afterLogin(env, next));
}
