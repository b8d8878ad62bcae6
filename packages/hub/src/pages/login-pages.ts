import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import { normalizeUsername, runLoginFlow } from '../auth/login-flow.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { ensureUser } from '../db/users.js';
import { serverClientId } from '../services/server-credentials.js';
import { userServerPath } from '../url-escape.js';
import { safeNext } from './safe-next.js';
import type { PageEnv } from './page-env.js';
import { afterLogin as afterLoginFor, authServices, finishLogin, requestOrigin, tooManyAttempts } from './login-common.js';
import { redirectLoginPages } from './redirect-login-pages.js';

type Form = Record<string, string | undefined>;

/** /hub/login, /hub/logout, /hub/setup-admin (first-run admin password). */
export async function loginPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;

  const redirectKind = hub.authenticator.loginKind === 'redirect';
  /** oauth_login, keeping a safe `next`. */
  const redirectLoginUrl = (next: string | undefined) => `${prefix}oauth_login${next ? `?next=${encodeURIComponent(next)}` : ''}`;

  const showLogin = (req: FastifyRequest, reply: FastifyReply, status: number, extra: Record<string, unknown>) => {
    const next = safeNext((req.query as Form).next, hub.urls.subdomain) ?? '';
    return pages.page(req, reply, 'login.html', {
      next,
      login_kind: hub.authenticator.loginKind,
      login_hint: hub.authenticator.loginHint ?? null,
      login_label: hub.authenticator.loginLabel || 'Sign in',
      login_url: redirectLoginUrl(next),
      signup_url: hub.authenticator.accounts?.signupEnabled ? `${prefix}signup` : null,
      login_error: null,
      username: '',
      ...extra,
    }, status);
  };

  await redirectLoginPages(app, env);

  app.get(`${prefix}login`, async (req, reply) => {
    const who = await auth.identify(req, { allowToken: false });
    const next = (req.query as Form).next;
    if (who) return reply.redirect(afterLoginFor(env, next));
    // Failed callbacks render an error page themselves (never this redirect), so auto_login cannot loop.
    if (redirectKind && hub.config.authenticator.auto_login) return reply.redirect(redirectLoginUrl(safeNext(next, hub.urls.subdomain)));
    return showLogin(req, reply, 200, {});
  });

  app.post(`${prefix}login`, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    try {
      auth.checkXsrf(req, form._xsrf, 'Login form invalid or expired. Try again.');
    } catch (err) {
      return showLogin(req, reply, 403, { login_error: (err as HubError).message, username: typeof form.username === 'string' ? form.username : '' });
    }
    const fields = Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => typeof e[1] === 'string'));
    // A repeated or non-string field (username=a&username=b, JSON numbers) is no username at all.
    const typed = typeof form.username === 'string' ? form.username : '';
    const services = authServices(env);
    const keys = LoginRateLimiter.keys(req.ip, normalizeUsername(typed) || undefined);
    const wait = services.limiter.retryAfter(keys);
    if (wait) return tooManyAttempts(env, req, reply, wait);
    // Counted before the (slow) password check, so parallel attempts cannot all slip past the limit;
    // taken back on success.
    services.limiter.fail(keys);
    let outcome;
    try {
      outcome = await runLoginFlow(services.login, { ...fields, username: typed }, req.ip);
    } catch (err) {
      if (err instanceof HubError && err.status < 500) {
        return showLogin(req, reply, err.status, { login_error: err.message, username: typed });
      }
      throw err;
    }
    if (!outcome.ok) {
      hub.log.info({ user: typed.slice(0, 255), reason: outcome.reason, ip: req.ip }, 'failed login');
      hub.events.emit('login-failed', { user: typed.slice(0, 255), reason: outcome.reason, ip: req.ip });
      return showLogin(req, reply, 403, { login_error: outcome.message, username: typed });
    }
    services.limiter.undo(keys.filter((k) => k.startsWith('a:')));
    return finishLogin(env, req, reply, outcome.user, keys, (req.query as Form).next);
  });

  app.get(`${prefix}logout`, async (req, reply) => {
    const who = await auth.identify(req, { allowToken: false });
    if (who && hub.config.hub.shutdown_on_logout) {
      await Promise.all(hub.servers.forUser(who.identity.userId).map((rt) => hub.servers.stop(rt)));
    }
    await auth.endSession(req, reply);
    if (who) hub.events.emit('logout', { user: who.identity.name });
    if (who) {
      // The browser also drops its cookies for the user's servers, so an open server tab is logged
      // out too instead of riding on the server's five-minute cache of the hub's answer.
      // The cookie is named after the server's OAuth client id (suffixed when two ids would clash).
      const servers = await hub.db.selectFrom('spawners')
        .leftJoin('oauth_clients', 'oauth_clients.spawner_id', 'spawners.id')
        .select(['spawners.name as name', 'oauth_clients.identifier as clientId'])
        .where('spawners.user_id', '=', who.identity.userId).execute();
      for (const { name, clientId } of servers.length ? servers : [{ name: '', clientId: null }]) {
        reply.clearCookie(clientId ?? serverClientId(who.identity.name, name), { path: userServerPath(hub.urls.baseUrl, who.identity.name, name) });
      }
    }
    // Single logout at the provider (CAS, OIDC end_session), when the authenticator has one.
    const services = authServices(env);
    const authState = who && hub.config.authenticator.enable_auth_state ? await services.state.load(who.identity.userId) : null;
    if (who) services.refresher.forget(who.identity.userId);
    const away = hub.authenticator.logoutRedirect?.({ hubLoginUrl: `${requestOrigin(env, req)}${prefix}login`, authState });
    if (away) return reply.redirect(away);
    // With auto_login the login page would sign the person straight back in: say they are logged out.
    if (hub.config.authenticator.auto_login && redirectKind) return pages.page(req, reply, 'logout.html', { login_url: `${prefix}login` });
    return reply.redirect(`${prefix}login`);
  });

  app.get(`${prefix}setup-admin`, async (req, reply) => {
    const token = (req.query as Form).token;
    const admin = env.adminSetup.check(token);
    if (!admin) return pages.error(req, reply, 404, 'This set-up link is invalid or was already used. Restart the hub to get a new one if no admin can log in.');
    return pages.page(req, reply, 'setup-admin.html', { admin_name: admin, token, error: null, minimum_password_length: minLength(env) });
  });

  app.post(`${prefix}setup-admin`, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    const admin = env.adminSetup.check(form.token);
    if (!admin) return pages.error(req, reply, 404, 'This set-up link is invalid or was already used.');
    const again = (error: string, status = 400) =>
      pages.page(req, reply, 'setup-admin.html', { admin_name: admin, token: form.token, error, minimum_password_length: minLength(env) }, status);
    try {
      auth.checkXsrf(req, form._xsrf, 'The form expired. Try again.');
    } catch (err) {
      return again((err as HubError).message, 403);
    }
    if (!form.password || form.password !== form.password_confirm) return again('The two passwords do not match.');
    if (!hub.authenticator.setPassword) return again('This authenticator does not manage passwords.');
    try {
      await hub.authenticator.setPassword(admin, form.password);
    } catch (err) {
      if (err instanceof HubError && err.status < 500) return again(err.message);
      throw err;
    }
    env.adminSetup.consume();
    const user = await ensureUser(hub.db, admin, { admin: true });
    await auth.startSession(reply, user.id);
    hub.log.info({ user: admin }, 'admin password set through the one-time link');
    return reply.redirect(`${prefix}home`);
  });
}

function minLength(env: PageEnv): number {
  const v = env.hub.config.authenticator.minimum_password_length;
  return typeof v === 'number' ? v : 8;
}
