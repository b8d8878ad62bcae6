import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import { runLoginFlow } from '../auth/login-flow.js';
import { ensureUser } from '../db/users.js';
import { serverClientId } from '../services/server-credentials.js';
import { userServerPath } from '../url-escape.js';
import { safeNext } from './safe-next.js';
import type { PageEnv } from './page-env.js';

type Form = Record<string, string | undefined>;

/** /hub/login, /hub/logout, /hub/setup-admin (first-run admin password). */
export async function loginPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;

  /** Where a user goes after login when no `next` was given. */
  const afterLogin = () => (hub.config.hub.redirect_to_server ? `${prefix}spawn` : `${prefix}home`);

  const showLogin = (req: FastifyRequest, reply: FastifyReply, status: number, extra: Record<string, unknown>) =>
    pages.page(req, reply, 'login.html', {
      next: safeNext((req.query as Form).next) ?? '',
      login_kind: hub.authenticator.loginKind,
      login_hint: hub.authenticator.loginHint ?? null,
      login_error: null,
      username: '',
      ...extra,
    }, status);

  app.get(`${prefix}login`, async (req, reply) => {
    const who = await auth.identify(req, { allowToken: false });
    if (who) return reply.redirect(safeNext((req.query as Form).next) ?? afterLogin());
    return showLogin(req, reply, 200, {});
  });

  app.post(`${prefix}login`, async (req, reply) => {
    const form = (req.body ?? {}) as Form;
    try {
      auth.checkXsrf(req, form._xsrf, 'Login form invalid or expired. Try again.');
    } catch (err) {
      return showLogin(req, reply, 403, { login_error: (err as HubError).message, username: form.username ?? '' });
    }
    const fields = Object.fromEntries(Object.entries(form).filter((e): e is [string, string] => typeof e[1] === 'string'));
    let outcome;
    try {
      outcome = await runLoginFlow({ db: hub.db, authenticator: hub.authenticator, config: hub.config.authenticator, implicitAllowAll: env.implicitAllowAll }, fields, req.ip);
    } catch (err) {
      if (err instanceof HubError && err.status < 500) return showLogin(req, reply, err.status, { login_error: err.message, username: form.username ?? '' });
      throw err;
    }
    if (!outcome.ok) {
      hub.log.info({ user: form.username, reason: outcome.reason, ip: req.ip }, 'failed login');
      hub.events.emit('login-failed', { user: String(form.username ?? ''), reason: outcome.reason, ip: req.ip });
      return showLogin(req, reply, 403, { login_error: outcome.message, username: form.username ?? '' });
    }
    await auth.startSession(reply, outcome.user.id);
    hub.log.info({ user: outcome.user.name }, 'user logged in');
    hub.events.emit('login', { user: outcome.user.name });
    return reply.redirect(safeNext((req.query as Form).next) ?? afterLogin());
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
      const names = await hub.db.selectFrom('spawners').select('name').where('user_id', '=', who.identity.userId).execute();
      for (const { name } of names.length ? names : [{ name: '' }]) {
        reply.clearCookie(serverClientId(who.identity.name, name), { path: userServerPath(hub.urls.baseUrl, who.identity.name, name) });
      }
    }
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
