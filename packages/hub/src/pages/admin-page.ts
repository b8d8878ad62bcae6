import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import { secureCookie } from '../auth/cookies.js';
import { pageUser, type PageEnv } from './page-env.js';
import { AdminActions, shown, type Actor, type Flash } from './admin-page-actions.js';
import { ADMIN_PAGE_SIZE, listingFromBack, listingQuery, loadTable, parseListing, type AdminListing } from './admin-page-listing.js';
import { field, formOf, type Form } from './form-fields.js';

const FLASH_COOKIE = 'tshub-admin-flash';

/**
 * /hub/admin: the admins' table of users and servers (searchable, sorted and paginated in SQL, as
 * GET /hub/api/users) and the forms acting on it. Every action is an xsrf-checked POST that answers
 * with a redirect back to the listing it came from and a one-time flash message (post-redirect-get).
 */
export async function adminPage(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const prefix = hub.urls.hubPrefix;
  const adminUrl = `${prefix}admin`;
  const actions = new AdminActions(hub);
  const httpsConfigured = hub.urls.publicOrigin.startsWith('https:') || hub.config.hub.bind_url.startsWith('https:');

  /** The logged-in admin; otherwise a login redirect or a 403 page has been sent (null). */
  const admin = async (req: FastifyRequest, reply: FastifyReply): Promise<Actor | null> => {
    let who;
    if (req.method === 'GET') {
      who = await pageUser(env, req, reply);
      if (!who) return null;
    } else {
      who = await auth.identify(req, { allowToken: false });
      if (!who) {
        // After logging in, come back to the listing rather than to a form's POST-only address.
        await reply.redirect(`${prefix}login?next=${encodeURIComponent(adminUrl)}`);
        return null;
      }
    }
    if (who.identity.admin && who.identity.kind === 'user') return { userId: who.identity.userId, name: who.identity.name };
    await pages.error(req, reply, 403, 'Only administrators can see and manage the users of this hub.', [{ href: `${prefix}home`, text: 'Home' }]);
    return null;
  };

  const setFlash = (reply: FastifyReply, flash: Flash) => {
    const value = JSON.stringify({ kind: flash.kind, text: flash.text.slice(0, 600) });
    const secure = secureCookie(reply.request, httpsConfigured);
    reply.setCookie(FLASH_COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', secure, path: adminUrl, maxAge: 300 });
  };

  /** The flash left by the last action, read once. */
  const takeFlash = (req: FastifyRequest, reply: FastifyReply): Flash | null => {
    const raw = req.cookies[FLASH_COOKIE];
    if (!raw) return null;
    reply.clearCookie(FLASH_COOKIE, { path: adminUrl });
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) return null;
    try {
      const parsed = JSON.parse(unsigned.value) as Partial<Flash>;
      if ((parsed.kind === 'info' || parsed.kind === 'error') && typeof parsed.text === 'string') return { kind: parsed.kind, text: parsed.text };
    } catch {
      // A cookie from an older format: nothing to show.
    }
    return null;
  };

  app.get(adminUrl, async (req, reply) => {
    const by = await admin(req, reply);
    if (!by) return reply;
    const listing = parseListing(req.query);
    const table = await loadTable(hub, listing, by.userId);
    const link = (over: Partial<AdminListing>) => `${adminUrl}${listingQuery(listing, over)}`;
    const first = (listing.page - 1) * ADMIN_PAGE_SIZE;
    return pages.page(req, reply, 'admin.html', {
      flash: takeFlash(req, reply),
      users: table.users,
      total: table.total,
      page_count: table.pages,
      listing,
      back: listingQuery(listing).replace(/^\?/, ''),
      admin_url: adminUrl,
      first_row: table.users.length ? first + 1 : 0,
      last_row: first + table.users.length,
      prev_url: listing.page > 1 ? link({ page: Math.min(listing.page - 1, table.pages) }) : null,
      next_url: listing.page < table.pages ? link({ page: listing.page + 1 }) : null,
      first_url: link({ page: 1 }),
      sort_urls: {
        name: link({ sort: listing.sort === 'name' ? '-name' : 'name', page: 1 }),
        last_activity: link({ sort: listing.sort === '-last_activity' ? 'last_activity' : '-last_activity', page: 1 }),
      },
      allow_named_servers: hub.config.hub.allow_named_servers,
      accounts_url: hub.authenticator.accounts ? `${prefix}authorize` : null,
    });
  });

  app.get(`${adminUrl}/delete`, async (req, reply) => {
    const by = await admin(req, reply);
    if (!by) return reply;
    const q = (req.query ?? {}) as Record<string, unknown>;
    const name = typeof q.user === 'string' ? q.user : '';
    const back = typeof q.back === 'string' ? listingQuery(listingFromBack(q.back)).replace(/^\?/, '') : '';
    const user = await actions.user(name);
    if (user.id === by.userId) throw new HubError(400, 'You cannot delete yourself.');
    const servers = await hub.db.selectFrom('spawners').select('name').where('user_id', '=', user.id).orderBy('name').execute();
    const running = hub.servers.forUser(user.id).filter((rt) => rt.active).length;
    return pages.page(req, reply, 'admin-confirm-delete.html', {
      target: { name: user.name, admin: user.admin, servers: servers.length, running },
      back,
      admin_url: adminUrl,
      cancel_url: `${adminUrl}${back ? `?${back}` : ''}`,
    });
  });

  /** Registers one xsrf-checked action; a 4xx refusal becomes an error flash, a fault goes to the error page. */
  const action = (path: string, run: (by: Actor, form: Form) => Promise<Flash>) => {
    app.post(`${adminUrl}/${path}`, async (req, reply) => {
      const by = await admin(req, reply);
      if (!by) return reply;
      const form = formOf(req.body);
      auth.checkXsrf(req, field(form, '_xsrf') || undefined, 'The form expired or was sent from another site. Reload the admin page and try again.');
      const back = listingFromBack(typeof form.back === 'string' ? form.back : '');
      let flash: Flash;
      try {
        flash = await run(by, form);
      } catch (err) {
        if (!(err instanceof HubError) || err.status >= 500) throw err;
        flash = { kind: 'error', text: err.message };
      }
      setFlash(reply, flash);
      return reply.redirect(`${adminUrl}${listingQuery(back)}`, 303);
    });
  };

  action('start', (_by, form) => actions.start(field(form, 'user'), field(form, 'server')));
  action('stop', (_by, form) => actions.stop(field(form, 'user'), field(form, 'server')));
  action('stop-all', (by) => actions.stopAll(by));
  action('add-users', (by, form) => actions.addUsers(by, field(form, 'usernames'), field(form, 'admin') !== ''));
  action('set-admin', async (by, form) => {
    const value = field(form, 'admin');
    if (value !== 'true' && value !== 'false') throw new HubError(400, `Unknown admin value: ${shown(value)}`);
    return actions.setAdmin(by, field(form, 'user'), value === 'true');
  });
  action('delete', async (by, form) => {
    if (field(form, 'confirm') !== 'yes') throw new HubError(400, 'Deleting a user needs the confirmation step. Use the Delete link.');
    return actions.deleteUser(by, field(form, 'user'));
  });
}
