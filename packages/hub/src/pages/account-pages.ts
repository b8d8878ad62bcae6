import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError, type AccountManager } from '@tshub/plugin-api';
import type { Identity } from '../auth/identity.js';
import { normalizeUsername, validUsername } from '../auth/login-flow.js';
import { LoginRateLimiter } from '../auth/login-rate-limit.js';
import { findUser } from '../db/users.js';
import type { HubContext } from '../hub-context.js';
import { pageUser, type PageEnv } from './page-env.js';
import { field, formOf, type Form } from './form-fields.js';

/** A 4xx HubError's message for the page; anything else is a real fault and goes to the error handler. */
function refusal(err: unknown): HubError {
  if (err instanceof HubError && err.status < 500) return err;
  throw err;
}

/**
 * Local-account pages, when the authenticator offers them: /hub/signup, /hub/change-password and the
 * admins' /hub/authorize (approvals, unlocks, password resets). Every form is xsrf-checked and every
 * refusal re-renders the form (or an error page) with a 4xx and a sentence saying what to do.
 */
export async function accountPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const accounts = env.hub.authenticator.accounts;
  if (!accounts) return;
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;
  const minimum_password_length = accounts.minimumPasswordLength;

  /** Reads the form and checks its xsrf token; throws HubError(400/403). */
  const postedForm = (req: FastifyRequest): Form => {
    const form = formOf(req.body);
    auth.checkXsrf(req, field(form, '_xsrf') || undefined, 'The form expired or was sent from another site. Reload the page and try again.');
    return form;
  };

  /** The hub's form of a typed name, or a 400 when the hub would never accept it. */
  const usernameOf = (typed: string): string => {
    const name = normalizeUsername(typed);
    if (name === '') throw new HubError(400, 'Enter a username.');
    if (!validUsername(name, hub.config.authenticator.username_pattern)) {
      throw new HubError(400, 'This username is not valid here: use at most 255 characters, without slashes or control characters.');
    }
    return name;
  };

  // --- sign-up ---------------------------------------------------------------------------------
  const signupPage = (req: FastifyRequest, reply: FastifyReply, status: number, vars: Record<string, unknown>) =>
    pages.page(req, reply, 'signup.html', { minimum_password_length, open_signup: hub.config.authenticator.open_signup === true, error: null, username: '', signup_status: null, ...vars }, status);

  const signupDisabled = (req: FastifyRequest, reply: FastifyReply) =>
    pages.error(req, reply, 404, 'Sign-up is not enabled on this hub. Ask an administrator for an account.', [{ href: `${prefix}login`, text: 'Sign in' }]);

  app.get(`${prefix}signup`, async (req, reply) => (accounts.signupEnabled ? signupPage(req, reply, 200, {}) : signupDisabled(req, reply)));

  const signupLimit = signupLimiter(hub.config.authenticator.signup_rate_limit);

  app.post(`${prefix}signup`, async (req, reply) => {
    if (!accounts.signupEnabled) return signupDisabled(req, reply);
    const keys = LoginRateLimiter.keys(req.ip);
    const wait = signupLimit.retryAfter(keys);
    if (wait) {
      hub.log.warn({ ip: req.ip, retry_after: wait }, 'sign-up refused: too many from this address (authenticator.signup_rate_limit)');
      reply.header('Retry-After', String(wait));
      const minutes = Math.ceil(wait / 60);
      return pages.error(req, reply, 429, `Too many accounts were signed up from your network address. Wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`);
    }
    // What the form shows again after a refusal: the normalised name once known, else what was typed.
    let shown = '';
    let counted = false;
    try {
      const form = postedForm(req);
      shown = field(form, 'username');
      const name = usernameOf(shown);
      shown = name;
      const password = field(form, 'password');
      if (password !== field(form, 'password_confirm')) throw new HubError(400, 'The two passwords do not match.');
      // Counted before the awaits, so parallel posts cannot all slip under the limit. Typos (400s)
      // are given back below; a taken name stays counted, so probing for names is limited as well.
      signupLimit.count(keys);
      counted = true;
      await refuseTakenName(env, accounts, name);
      const { status } = await accounts.signUp(name, password);
      hub.log.info({ user: name, status, ip: req.ip }, 'sign-up');
      return signupPage(req, reply, 200, { username: name, signup_status: status });
    } catch (err) {
      const refused = refusal(err);
      if (counted && refused.status === 400) signupLimit.undo(keys);
      return signupPage(req, reply, refused.status, { error: refused.message, username: shown.slice(0, 255) });
    }
  });

  // --- change password -------------------------------------------------------------------------
  const changePage = (req: FastifyRequest, reply: FastifyReply, status: number, vars: Record<string, unknown>) =>
    pages.page(req, reply, 'change-password.html', { minimum_password_length, error: null, changed: false, ...vars }, status);

  app.get(`${prefix}change-password`, async (req, reply) => {
    if (!(await pageUser(env, req, reply))) return reply;
    return changePage(req, reply, 200, {});
  });

  app.post(`${prefix}change-password`, async (req, reply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return reply;
    try {
      const form = postedForm(req);
      const newPassword = field(form, 'new_password');
      if (newPassword !== field(form, 'new_password_confirm')) throw new HubError(400, 'The two new passwords do not match.');
      await accounts.changePassword(who.identity.name, field(form, 'old_password'), newPassword);
      // Whoever else holds a session (another device, a stolen cookie) must log in with the new password.
      const ended = await endSessions(hub, who.identity.userId, who.identity.sessionId);
      hub.log.info({ user: who.identity.name, other_sessions_ended: ended }, 'password changed');
      return changePage(req, reply, 200, { changed: true });
    } catch (err) {
      const refused = refusal(err);
      return changePage(req, reply, refused.status, { error: refused.message });
    }
  });

  registerAuthorizePages(app, env, accounts, usernameOf, postedForm);
}

/**
 * Ends a user's login sessions, except `keep` (the session making the change), with the OAuth tokens
 * issued within them, as a logout would. Tokens created on the token page or by the API, and the
 * servers' own tokens, stay: like JupyterHub, a password change is about logins. Returns the count.
 */
async function endSessions(hub: HubContext, userId: number, keep: string | null): Promise<number> {
  let query = hub.db.selectFrom('sessions').select('id').where('user_id', '=', userId);
  if (keep) query = query.where('id', '!=', keep);
  const ids = (await query.execute()).map((r) => r.id);
  if (ids.length === 0) return 0;
  await hub.db.deleteFrom('api_tokens').where('session_id', 'in', ids).execute();
  await hub.db.deleteFrom('sessions').where('id', 'in', ids).execute();
  hub.identities.invalidate();
  return ids.length;
}

/** authenticator.signup_rate_limit (the local kind's option; its schema fills the defaults, repeated here). */
function signupLimiter(raw: unknown): LoginRateLimiter {
  const opts = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const count = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback);
  return new LoginRateLimiter({ maxFailures: count(opts.max_signups, 5), windowSeconds: count(opts.window_seconds, 600) });
}

/**
 * A name the hub already knows (a configured admin before its set-up, a user an admin created) is not
 * up for grabs: signing up as it would take over that person's account. Blocked names are refused too.
 */
async function refuseTakenName(env: PageEnv, accounts: AccountManager, name: string): Promise<void> {
  const blocked = env.hub.config.authenticator.blocked_users.map(normalizeUsername).includes(name);
  if (blocked || (await findUser(env.hub.db, name)) !== undefined || (await accounts.hasAccount(name))) {
    throw new HubError(409, `The username ${name} is already taken. Choose another one.`);
  }
}

type Action = 'approve' | 'reject' | 'unlock' | 'reset';

/** /hub/authorize: the admins' list of pending and locked accounts, and the actions on them. */
function registerAuthorizePages(
  app: FastifyInstance,
  env: PageEnv,
  accounts: AccountManager,
  usernameOf: (typed: string) => string,
  postedForm: (req: FastifyRequest) => Form,
): void {
  const { hub, pages } = env;
  const prefix = hub.urls.hubPrefix;
  const firstUse = hub.config.authenticator.allow_first_use === true || hub.config.authenticator.first_use_passwords === true;

  /** The logged-in admin; otherwise a login redirect or a 403 page has been sent (null). */
  const admin = async (req: FastifyRequest, reply: FastifyReply): Promise<Identity | null> => {
    const who = await pageUser(env, req, reply);
    if (!who) return null;
    if (who.identity.admin) return who.identity;
    await pages.error(req, reply, 403, 'Only administrators can approve, unlock and reset accounts.');
    return null;
  };

  const listPage = async (req: FastifyRequest, reply: FastifyReply, status: number, vars: Record<string, unknown>) =>
    pages.page(req, reply, 'authorize-users.html', {
      pending: await accounts.listPending(),
      locked: await accounts.listLocked(),
      minimum_password_length: accounts.minimumPasswordLength,
      first_use: firstUse,
      message: null,
      error: null,
      ...vars,
    }, status);

  app.get(`${prefix}authorize`, async (req, reply) => {
    if ((await admin(req, reply)) === null) return reply;
    return listPage(req, reply, 200, {});
  });

  const perform: Record<Action, (name: string, form: Form, by: Identity) => Promise<string>> = {
    approve: async (name) => (await accounts.approve(name), `Approved ${name}: they can sign in now.`),
    reject: async (name) => (await accounts.reject(name), `Rejected the sign-up of ${name}.`),
    unlock: async (name) => (await accounts.unlock(name), `Unlocked ${name}.`),
    reset: async (name, form, by) => {
      if ((await findUser(hub.db, name)) === undefined && !(await accounts.hasAccount(name))) {
        throw new HubError(404, `There is no user named ${name}. Create the user first (admin page or REST API).`);
      }
      const password = field(form, 'password');
      await accounts.resetPassword(name, password === '' ? null : password);
      // Every session of the user ends (an admin resetting their own password keeps the one in use).
      const user = await findUser(hub.db, name);
      const ended = user ? await endSessions(hub, user.id, user.id === by.userId ? by.sessionId : null) : 0;
      const loggedOut = ended ? ` ${ended === 1 ? 'Their session was' : `Their ${ended} sessions were`} ended.` : '';
      return (password === '' ? `Cleared the password of ${name}: their next login sets it.` : `Set a new password for ${name}.`) + loggedOut;
    },
  };

  for (const action of Object.keys(perform) as Action[]) {
    app.post(`${prefix}authorize/${action}`, async (req, reply) => {
      const by = await admin(req, reply);
      if (by === null) return reply;
      try {
        const form = postedForm(req);
        const name = usernameOf(field(form, 'username'));
        const message = await perform[action](name, form, by);
        hub.log.info({ admin: by.name, user: name, action }, 'account action');
        return listPage(req, reply, 200, { message });
      } catch (err) {
        const refused = refusal(err);
        return listPage(req, reply, refused.status, { error: refused.message });
      }
    });
  }
}
