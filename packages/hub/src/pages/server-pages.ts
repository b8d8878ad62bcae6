import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError, type JsonObject } from '@tshub/plugin-api';
import { hasScope } from '../auth/scopes.js';
import { findUser, userGroupNames } from '../db/users.js';
import { isLoginFailure, spawnFailureError } from '../services/run-spawn.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { urlEscapePath } from '../url-escape.js';
import { pageUser, type PageEnv } from './page-env.js';
import { safeNext } from './safe-next.js';

type Params = { user?: string; server?: string };
type Query = Record<string, string | undefined>;

/** /hub/home, /hub/spawn[/:user[/:server]], /hub/spawn-pending/:user[/:server]. */
export async function serverPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;
  const suffix = (user: string, server: string) => `${urlEscapePath(user)}${server ? '/' + urlEscapePath(server) : ''}`;

  const describe = (rt: ServerRuntime | undefined) => ({
    active: Boolean(rt?.active), ready: Boolean(rt?.ready), pending: rt?.pending ?? null, url: rt?.publicUrl ?? '',
    failed_message: rt?.phase === 'failed' ? rt.failure?.message ?? null : null,
  });

  app.get(`${prefix}home`, async (req, reply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return reply;
    const runtimes = hub.servers.forUser(who.identity.userId);
    const named = hub.config.hub.allow_named_servers
      ? await hub.db.selectFrom('spawners').select('name').where('user_id', '=', who.identity.userId).where('name', '!=', '').orderBy('name').execute()
      : [];
    return pages.page(req, reply, 'home.html', {
      default_server: describe(runtimes.find((r) => r.serverName === '')),
      named_servers: named.map((n) => ({ name: n.name, ...describe(runtimes.find((r) => r.serverName === n.name)) })),
      allow_named_servers: hub.config.hub.allow_named_servers,
      spawn_url: `${prefix}spawn`,
    });
  });

  /** The target user and server of a spawn page, after access checks. */
  const target = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return null;
    const name = req.params.user ?? who.identity.name;
    const server = req.params.server ?? (req.params.user === undefined ? hub.config.hub.default_server_name : '');
    if (name !== who.identity.name && !hasScope(who.identity.scopeSet, 'servers', { user: name, server: `${name}/${server}` })) {
      await pages.error(req, reply, 404, `No access to ${name}'s server, or there is no such user.`);
      return null;
    }
    const user = await findUser(hub.db, name);
    if (!user) {
      await pages.error(req, reply, 404, `No such user: ${name}`);
      return null;
    }
    if (server && !hub.config.hub.allow_named_servers) {
      await pages.error(req, reply, 400, 'Named servers are not enabled.');
      return null;
    }
    return { who, user, server };
  };
  type Target = NonNullable<Awaited<ReturnType<typeof target>>>;

  /**
   * A spawn refused before the spawner ran, over the login (revoked: 403; the identity provider did
   * not answer: 503): a page saying what to do instead of the generic failure. The revoked user's
   * sessions are gone already, so their link leads through the login page back to the spawn.
   * Resolves null (nothing sent) for other failures.
   */
  const failurePage = async (req: FastifyRequest, reply: FastifyReply, t: Target, rt: ServerRuntime, next: string | undefined): Promise<FastifyReply | null> => {
    const self = t.who.identity.userId === t.user.id;
    const err = spawnFailureError(rt.failure, { user: t.user.name, byOther: !self });
    if (err.status === 500) return null;
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    const spawnUrl = `${prefix}spawn/${suffix(t.user.name, t.server)}${next ? `?next=${encodeURIComponent(next)}` : ''}`;
    const links = isLoginFailure(rt.failure) && self
      ? [{ href: `${prefix}login?next=${encodeURIComponent(spawnUrl)}`, text: 'Log in again' }]
      : [{ href: spawnUrl, text: 'Try again' }, { href: `${prefix}home`, text: 'Home' }];
    return pages.error(req, reply, err.status, err.message, links, isLoginFailure(rt.failure) ? 'Login expired' : 'Login check failed');
  };

  const startAndRedirect = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply, t: Target, options: JsonObject) => {
    const next = safeNext((req.query as Query).next, hub.urls.subdomain);
    let rt: ServerRuntime;
    try {
      rt = await hub.servers.spawn({ id: t.user.id, name: t.user.name, admin: t.user.admin, groups: await userGroupNames(hub.db, t.user.id) }, t.server, options);
    } catch (err) {
      if (err instanceof HubError && err.status < 500) {
        for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
        return pages.error(req, reply, err.status, err.message, [{ href: `${prefix}home`, text: 'Home' }]);
      }
      throw err;
    }
    // Fast spawns skip the progress page entirely; so does a refused login (checked first).
    await Promise.race([rt.spawnDone, new Promise((r) => setTimeout(r, 1000).unref())]);
    if (rt.ready) return reply.redirect(next ?? rt.publicUrl);
    if (rt.phase === 'failed') {
      const shown = await failurePage(req, reply, t, rt, next);
      if (shown) return shown;
    }
    const q = next ? `?next=${encodeURIComponent(next)}` : '';
    return reply.redirect(`${prefix}spawn-pending/${suffix(t.user.name, t.server)}${q}`);
  };

  const spawnGet = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t = await target(req, reply);
    if (!t) return reply;
    const rt = hub.servers.get(t.user.id, t.server);
    const next = safeNext((req.query as Query).next, hub.urls.subdomain);
    if (rt?.ready) return reply.redirect(next ?? rt.publicUrl);
    if (rt?.pending) return reply.redirect(`${prefix}spawn-pending/${suffix(t.user.name, t.server)}${next ? `?next=${encodeURIComponent(next)}` : ''}`);
    const query = Object.fromEntries(Object.entries(req.query as Query).filter(([k, v]) => k !== 'next' && k !== '_xsrf' && typeof v === 'string')) as JsonObject;
    const shared = hub.servers.deps.shared;
    const pluginForm = shared?.optionsForm ? await shared.optionsForm({ name: t.user.name, admin: t.user.admin, groups: await userGroupNames(hub.db, t.user.id), authState: null }) : null;
    const optionsForm = pluginForm || hub.config.spawner.options_form;
    if (optionsForm && Object.keys(query).length === 0) {
      return pages.page(req, reply, 'spawn.html', {
        user_name: t.user.name, server_name: t.server, options_form: optionsForm,
        spawn_url: req.url, error: null,
      });
    }
    return startAndRedirect(req, reply, t, query);
  };

  const spawnPost = async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const t = await target(req, reply);
    if (!t) return reply;
    const form = (req.body ?? {}) as Record<string, unknown>;
    try {
      auth.checkXsrf(req, typeof form._xsrf === 'string' ? form._xsrf : undefined, 'The form expired. Reload the page and try again.');
    } catch (err) {
      return pages.error(req, reply, 403, (err as HubError).message);
    }
    const options: JsonObject = {};
    for (const [k, v] of Object.entries(form)) {
      if (k === '_xsrf') continue;
      if (typeof v === 'string') options[k] = v;
      else if (Array.isArray(v)) options[k] = v.filter((x): x is string => typeof x === 'string');
    }
    return startAndRedirect(req, reply, t, options);
  };

  for (const path of ['spawn', 'spawn/:user', 'spawn/:user/:server']) {
    app.get<{ Params: Params }>(`${prefix}${path}`, spawnGet);
    app.post<{ Params: Params }>(`${prefix}${path}`, spawnPost);
  }

  const pending = async (req: FastifyRequest<{ Params: Required<Pick<Params, 'user'>> & Params }>, reply: FastifyReply) => {
    const t = await target(req, reply);
    if (!t) return reply;
    const rt = hub.servers.get(t.user.id, t.server);
    const next = safeNext((req.query as Query).next, hub.urls.subdomain);
    const spawnUrl = `${prefix}spawn/${suffix(t.user.name, t.server)}`;
    if (rt?.ready) return reply.redirect(next ?? rt.publicUrl);
    if (rt?.phase === 'failed') {
      const shown = await failurePage(req, reply, t, rt, next);
      if (shown) return shown;
      return pages.error(req, reply, 500, `Spawn failed: ${rt.failure?.message ?? 'unknown error'}`, [
        { href: spawnUrl, text: 'Try again' },
        { href: `${prefix}home`, text: 'Home' },
      ], 'Server failed to start');
    }
    if (!rt?.pending) {
      return pages.page(req, reply, 'not-running.html', { user_name: t.user.name, server_name: t.server, spawn_url: spawnUrl, failed_message: null, implicit_spawn_seconds: 0 }, 424);
    }
    const api = `${prefix}api/users/${urlEscapePath(t.user.name)}`;
    return pages.page(req, reply, 'spawn-pending.html', {
      user_name: t.user.name, server_name: t.server,
      progress_url: t.server ? `${api}/servers/${urlEscapePath(t.server)}/progress` : `${api}/server/progress`,
      server_url: next ?? rt.publicUrl,
    });
  };
  app.get<{ Params: { user: string; server?: string } }>(`${prefix}spawn-pending/:user`, pending);
  app.get<{ Params: { user: string; server?: string } }>(`${prefix}spawn-pending/:user/:server`, pending);
}
