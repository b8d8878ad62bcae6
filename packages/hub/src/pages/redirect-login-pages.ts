import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError, type JsonObject } from '@tshub/plugin-api';
import { runLogin, type LoginOutcome } from '../auth/login-flow.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { secureCookie } from '../auth/cookies.js';
import { safeNext } from './safe-next.js';
import { authServices, finishLogin, requestOrigin, tooManyAttempts } from './login-common.js';
import type { PageEnv } from './page-env.js';

/** What the hub keeps between oauth_login and oauth_callback (signed cookie; the plugin owns `pending`). */
const PENDING_COOKIE = 'tshub-login-pending';
const PENDING_SECONDS = 600;
/** How much of a provider's error and error_description the error page shows (anyone can craft the link). */
const MAX_DETAIL = 300;

interface Pending {
  pending: JsonObject;
  next: string;
  /** Epoch ms when the login started: the cookie's lifetime is also checked server-side. */
  t: number;
}

type Query = Record<string, unknown>;

/**
 * Logins that leave the hub (OAuth/OIDC, GitHub, CAS): {prefix}oauth_login sends the browser to the
 * provider, {prefix}oauth_callback runs the login pipeline on its answer. Every failure shows an error
 * page with a "Try again" link, never a redirect, so auto_login cannot loop.
 */
export async function redirectLoginPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;
  const authenticator = hub.authenticator;
  if (authenticator.loginKind !== 'redirect' || typeof authenticator.loginRedirect !== 'function') return;
  const loginRedirect = authenticator.loginRedirect.bind(authenticator);
  const httpsConfigured = hub.urls.publicOrigin.startsWith('https:') || hub.config.hub.bind_url.startsWith('https:');

  const retryLink = (next: string) => [{ href: `${prefix}oauth_login${next ? `?next=${encodeURIComponent(next)}` : ''}`, text: 'Try again' }];
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, message: string, next: string) =>
    pages.error(req, reply, status, message, retryLink(next), status === 403 ? 'Sign-in refused' : 'Sign-in failed');

  app.get(`${prefix}oauth_login`, async (req, reply) => {
    const next = safeNext(str((req.query as Query).next), env.hub.urls.subdomain) ?? '';
    const { limiter } = authServices(env);
    const wait = limiter.retryAfter(LoginRateLimiter.keys(req.ip));
    if (wait) return tooManyAttempts(env, req, reply, wait);
    const callbackUrl = `${requestOrigin(env, req)}${prefix}oauth_callback`;
    let target: { url: string; pending: JsonObject };
    try {
      target = await loginRedirect({ callbackUrl, remoteAddress: req.ip });
    } catch (err) {
      return pluginFailure(req, reply, err, next);
    }
    // A very long next would push the cookie past the browser's 4 KB limit and break the login.
    const saved: Pending = { pending: target.pending, next: next.length <= 1024 ? next : '', t: Date.now() };
    reply.setCookie(PENDING_COOKIE, JSON.stringify(saved), {
      signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookie(req, httpsConfigured), path: prefix, maxAge: PENDING_SECONDS,
    });
    return reply.redirect(target.url, 302);
  });

  app.get(`${prefix}oauth_callback`, async (req, reply) => {
    const query = req.query as Query;
    const saved = readPending(req);
    const next = saved?.next ?? '';
    reply.clearCookie(PENDING_COOKIE, { path: prefix });
    const services = authServices(env);
    const addressKeys = LoginRateLimiter.keys(req.ip);
    const wait = services.limiter.retryAfter(addressKeys);
    if (wait) return tooManyAttempts(env, req, reply, wait);

    const providerError = str(query.error)?.slice(0, MAX_DETAIL);
    // Provider errors, state mismatches and missing cookies guess nothing, so they are not counted:
    // counting them would let any web page lock people out with a few <img> tags.
    if (providerError) {
      const detail = str(query.error_description)?.slice(0, MAX_DETAIL);
      hub.log.info({ error: providerError, ip: req.ip }, 'the identity provider refused the sign-in');
      const message = providerError === 'access_denied'
        ? `Sign-in was cancelled or refused at the identity provider${detail ? `: ${detail}` : '.'}`
        : `The identity provider reported an error: ${providerError}${detail ? ` (${detail})` : ''}.`;
      return refuse(req, reply, providerError === 'access_denied' ? 403 : 400, message, next);
    }
    const fields = Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const callbackUrl = `${requestOrigin(env, req)}${prefix}oauth_callback`;
    let outcome: LoginOutcome;
    try {
      outcome = await runLogin(services.login, {
        fields, remoteAddress: req.ip, pending: saved?.pending ?? null, callbackUrl, currentUrl: `${requestOrigin(env, req)}${req.url}`,
      });
    } catch (err) {
      return pluginFailure(req, reply, err, next);
    }
    if (!outcome.ok) {
      const keys = LoginRateLimiter.keys(req.ip, outcome.name);
      services.limiter.fail(keys);
      hub.log.info({ user: outcome.name, reason: outcome.reason, ip: req.ip }, 'failed login');
      hub.events.emit('login-failed', { user: outcome.name ?? '', reason: outcome.reason, ip: req.ip });
      return refuse(req, reply, outcome.reason === 'invalid' ? 400 : 403, outcome.message, next);
    }
    return finishLogin(env, req, reply, outcome.user, LoginRateLimiter.keys(req.ip, outcome.user.name), next);
  });

  /** A plugin's HubError keeps its status and message; anything else is the provider or network failing. */
  function pluginFailure(req: FastifyRequest, reply: FastifyReply, err: unknown, next: string): Promise<FastifyReply> {
    if (err instanceof HubError && err.status < 500) return refuse(req, reply, err.status, err.message, next);
    if (err instanceof HubError) {
      hub.log.warn({ err: err.message }, 'redirect login failed');
      return refuse(req, reply, 502, err.message, next);
    }
    hub.log.error({ err }, 'the authenticator failed during a redirect login');
    return refuse(req, reply, 502, 'The hub could not complete the sign-in with the identity provider. Try again in a moment; the hub log has details.', next);
  }

  function readPending(req: FastifyRequest): Pending | null {
    const raw = req.cookies[PENDING_COOKIE];
    if (!raw) return null;
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return null;
    try {
      const v = JSON.parse(unsigned.value) as Pending;
      if (!v || typeof v !== 'object' || !v.pending || typeof v.t !== 'number' || Date.now() - v.t > PENDING_SECONDS * 1000) return null;
      return { pending: v.pending, next: safeNext(v.next, env.hub.urls.subdomain) ?? '', t: v.t };
    } catch {
      return null;
    }
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
