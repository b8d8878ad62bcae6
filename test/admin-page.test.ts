import t from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

/**
 * The admin page (/hub/admin) as a browser without JavaScript uses it: the paginated, searchable user
 * table, and every action as a form post that redirects back with a flash message. One hub for the
 * whole file; users are made through the REST API with a token of the configured admin.
 */

const TOKEN = 'a'.repeat(32);
const ADMIN = 'boss';

/** Names in the table, in order. */
const rows = (page: Page) => [...page.text.matchAll(/<tr data-user="([^"]*)"/g)].map((m) => m[1] ?? '');

interface UserModel {
  admin: boolean;
  server: string | null;
  servers?: Record<string, { ready: boolean }>;
}
const flash = (page: Page) => /id="admin-flash"[^>]*>([^<]*)</.exec(page.text)?.[1]?.replace(/&#39;/g, "'") ?? null;

async function loggedIn(origin: string, name: string): Promise<BrowserClient> {
  const c = new BrowserClient(origin);
  const page = await c.submit(await c.get('/hub/login'), '/hub/login?next=%2Fhub%2Fhome', { username: name, password: 'x' });
  if (page.status !== 200) throw new Error(`login of ${name} ended with ${page.status} ${page.url}`);
  return c;
}

t.test('admin page', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: ADMIN } }, authenticator: { admin_users: [ADMIN] } } });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${th.publicUrl}/hub/api${path}`, { ...init, headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json', ...init.headers } });
  const userModel = async (name: string) => (await (await api(`/users/${name}`)).json()) as UserModel;

  const anonymous = new BrowserClient(th.publicUrl);
  const anon = await anonymous.request('/hub/admin?page=2');
  t.equal(anon.status, 302, 'anonymous visitors are sent to log in');
  t.equal(anon.headers.get('location'), '/hub/login?next=%2Fhub%2Fadmin%3Fpage%3D2', 'and come back afterwards');

  const admin = await loggedIn(th.publicUrl, ADMIN);
  const student = await loggedIn(th.publicUrl, 'pleb');
  const names = Array.from({ length: 120 }, (_, i) => `u${String(i).padStart(3, '0')}`);
  const created = await api('/users', { method: 'POST', body: JSON.stringify({ usernames: names }) });
  t.equal(created.status, 201, 'the REST API creates 120 users');

  await t.test('non-admins get a 403 page, posts without xsrf are refused', async (t) => {
    const page = await student.get('/hub/admin');
    t.equal(page.status, 403);
    t.match(page.text, /Only administrators/);
    const home = await student.get('/hub/home');
    t.notMatch(home.text, /href="\/hub\/admin"/, 'the header has no Admin link for them');
    const post = await student.submit(home, '/hub/admin/stop-all', {});
    t.equal(post.status, 403, 'a student posting with a valid xsrf token is still refused');
    const noXsrf = await admin.request('/hub/admin/add-users', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ usernames: 'sneaky' }),
    });
    t.equal(noXsrf.status, 403, 'an admin post without _xsrf is refused');
    t.match(noXsrf.text, /form expired/);
    t.equal((await api('/users/sneaky')).status, 404, 'and did nothing');
  });

  await t.test('table: pagination, search and sort', async (t) => {
    const all = [ADMIN, 'pleb', ...names].sort();
    const first = await admin.get('/hub/admin');
    t.equal(first.status, 200);
    t.match(first.text, /<h1>Admin<\/h1>/);
    t.match(first.text, /Users 1–50 of 122/);
    t.same(rows(first), all.slice(0, 50), 'page 1 is the first 50 names');
    t.match(first.text, /<tr data-user="boss">\s*<th scope="row">boss <span class="muted">\(you\)<\/span>/, 'the admin sees themselves marked');
    t.match(first.text, /<span class="badge badge-admin">admin<\/span>/);
    t.match(first.text, /<span class="status">Stopped<\/span>/);
    t.match(first.text, /href="\/hub\/admin\?page=2" rel="next"/);
    t.match(first.text, /aria-current="page">Admin</, 'the header marks the page');
    t.notMatch(first.text, /href="\/hub\/authorize"/, 'no accounts link without local accounts');

    const second = await admin.get('/hub/admin?page=2');
    t.same(rows(second), all.slice(50, 100), 'page 2 shows the right slice');
    t.match(second.text, /Users 51–100 of 122/);
    const third = await admin.get('/hub/admin?page=3');
    t.same(rows(third), all.slice(100), 'page 3 the rest');
    t.notMatch(third.text, /rel="next"/);

    const search = await admin.get('/hub/admin?q=U11');
    t.same(rows(search), names.filter((n) => n.includes('u11')), 'search is a case-insensitive substring');
    t.match(search.text, /value="U11"/, 'the search box keeps the text');
    const desc = await admin.get('/hub/admin?sort=-name&q=u0');
    t.same(rows(desc), names.filter((n) => n.startsWith('u0')).sort().reverse().slice(0, 50), 'sort by name, descending');

    const reported = await api('/users/u119/activity', { method: 'POST', body: JSON.stringify({ last_activity: new Date(Date.now() - 3 * 60_000).toISOString() }) });
    t.equal(reported.status, 200, 'activity reported');
    await th.hub.ctx.activity.flush(); // reports are written in batches; write this one now
    const recent = await admin.get('/hub/admin?sort=-last_activity');
    // Users seen (the admin, through the API token) come first, newest first; never-seen users last.
    const order = rows(recent);
    t.ok(order.indexOf('u119') >= 0 && order.indexOf('u119') < 3, `u119 is among the most recent: ${order.slice(0, 3).join(', ')}`);
    t.notOk(order.slice(0, order.indexOf('u119')).some((n) => n.startsWith('u')), 'before those never seen');
    t.match(recent.text, /data-user="u119">(?:(?!<\/tr>)[\s\S])*<time datetime="[^"]+Z" title="[^"]+Z">3 minutes ago<\/time>/, 'relative time with the ISO time in a title');
    const oldest = rows(await admin.get('/hub/admin?sort=last_activity'));
    t.ok(oldest.includes('u000') && !oldest.includes('u119'), 'ascending: never-seen users lead');
  });

  await t.test('odd inputs are 4xx or empty, never 500', async (t) => {
    for (const q of ['page=0', 'page=-1', 'page=abc', 'page=1.5', 'page=99999999999999999999', 'sort=bogus', 'state=weird', 'q=%00', `q=${'x'.repeat(300)}`]) {
      const page = await admin.get(`/hub/admin?${q}`);
      t.equal(page.status, 400, `${q.slice(0, 40)} is a 400`);
    }
    const huge = await admin.get('/hub/admin?page=999999');
    t.equal(huge.status, 200, 'a page past the end is empty');
    t.same(rows(huge), []);
    t.match(huge.text, /There are no users on page 999999/);
    for (const q of ['q=a%2Fb', 'q=%3Cscript%3E', 'page=2&page=1', 'q=%25', 'q=_']) {
      const page = await admin.get(`/hub/admin?${q}`);
      t.equal(page.status, 200, `${q} answers`);
    }
    t.same(rows(await admin.get('/hub/admin?q=%25')), [], 'SQL wildcards are literal');
    for (const user of ['a/b', 'nul\u0000x', '', 'nobody']) {
      const page = await admin.get(`/hub/admin/delete?user=${encodeURIComponent(user)}`);
      t.ok(page.status >= 400 && page.status < 500, `the delete page for ${JSON.stringify(user)} is a 4xx (${page.status})`);
    }
    const form = await admin.get('/hub/admin');
    for (const [action, fields] of [
      ['start', { user: 'a/b' }], ['stop', { user: 'nul\u0000x' }], ['set-admin', { user: 'u005', admin: 'maybe' }],
      ['delete', { user: 'u005' }], ['start', { user: 'u005', server: 'named' }],
    ] as const) {
      const page = await admin.submit(form, `/hub/admin/${action}`, fields);
      t.equal(page.status, 200, `${action} ${JSON.stringify(fields)} redirects back`);
      t.ok(flash(page), `with a message: ${flash(page)}`);
      t.match(page.text, /id="admin-flash" class="alert" role="alert"/, 'shown as an error');
    }
    t.equal((await api('/users/u005')).status, 200, 'deleting without the confirmation step did nothing');
    const repeated = await admin.request('/hub/admin/start', {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `_xsrf=${encodeURIComponent(/name="_xsrf" value="([^"]*)"/.exec(form.text)![1]!)}&user=u006&user=u007`,
    });
    t.equal(repeated.status, 303, 'a repeated field is refused with a message, not a crash');
    const json = await admin.request('/hub/admin/stop', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1,2]' });
    t.equal(json.status, 403, 'a JSON body without xsrf is refused');
  });

  await t.test('start and stop servers from the page', async (t) => {
    if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
    const form = await admin.get('/hub/admin?q=u00');
    const started = await admin.submit(form, '/hub/admin/start', { user: 'u000', back: 'q=u00' });
    t.equal(new URL(started.url).search, '?q=u00', 'back to the same listing');
    t.match(flash(started), /u000's server/);
    const second = await admin.submit(form, '/hub/admin/start', { user: 'u001', back: 'q=u00' });
    t.match(flash(second), /u001's server/);
    let page = second;
    for (let i = 0; i < 100 && (page.text.match(/class="status status-running"/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      page = await admin.get('/hub/admin?q=u00');
    }
    t.match(page.text, /<a href="\/user\/u000\/"><span class="status status-running">Running<\/span><\/a>/, 'running, linked to its URL');
    t.match(page.text, /<a href="\/user\/u001\/"><span class="status status-running">Running<\/span><\/a>/);
    const model = await userModel('u000');
    t.equal(model.servers?.['']?.ready, true, 'the REST API agrees');

    const stopped = await admin.submit(page, '/hub/admin/stop', { user: 'u000', back: 'q=u00' });
    t.equal(flash(stopped), "Stopped u000's server.");
    t.notMatch(stopped.text, /href="\/user\/u000\/"/);
    t.equal((await userModel('u000')).server, null, 'the REST API agrees');

    const all = await admin.submit(stopped, '/hub/admin/stop-all', {});
    t.equal(flash(all), 'Stopped 1 server.');
    t.equal((await userModel('u001')).server, null);
    t.equal(flash(await admin.submit(all, '/hub/admin/stop-all', {})), 'No servers are running.');
  });

  await t.test('add users, toggle admin, delete with confirmation', async (t) => {
    const form = await admin.get('/hub/admin');
    const bad = await admin.submit(form, '/hub/admin/add-users', { usernames: 'New1\nbad/name\nnul\u0000' });
    t.match(flash(bad), /Invalid user names: bad\/name/);
    t.equal((await api('/users/new1')).status, 404, 'nothing is created when a name is invalid');
    const added = await admin.submit(form, '/hub/admin/add-users', { usernames: ' New1 \r\n\r\nnew2\nu003', admin: 'yes' });
    t.equal(flash(added), 'Added 2 admins: new1, new2. Already there: u003.');
    t.equal((await userModel('new2')).admin, true);
    t.match(flash(await admin.submit(form, '/hub/admin/add-users', { usernames: 'new1' })), /already exists/);

    const made = await admin.submit(form, '/hub/admin/set-admin', { user: 'u004', admin: 'true' });
    t.equal(flash(made), 'u004 is now an admin.');
    t.equal((await userModel('u004')).admin, true);
    const revoked = await admin.submit(form, '/hub/admin/set-admin', { user: 'u004', admin: 'false' });
    t.equal(flash(revoked), 'u004 is no longer an admin.');
    t.equal((await userModel('u004')).admin, false);
    t.match(flash(await admin.submit(form, '/hub/admin/set-admin', { user: ADMIN, admin: 'false' })), /cannot remove your own admin rights/);
    t.equal((await userModel(ADMIN)).admin, true);

    t.match(form.text, /<a class="btn btn-danger" href="\/hub\/admin\/delete\?user=pleb" aria-label="Delete pleb">Delete<\/a>/, 'each row links to its delete step');
    t.notMatch(form.text, /delete\?user=boss/, "but not the admin's own row");
    const confirm = await admin.get('/hub/admin/delete?user=u003&back=q%3Du00');
    t.equal(confirm.status, 200);
    t.match(confirm.text, /<h1>Delete u003\?<\/h1>/);
    t.match(confirm.text, /href="\/hub\/admin\?q=u00">Cancel/);
    const deleted = await admin.submit(confirm, '/hub/admin/delete', { user: 'u003', confirm: 'yes', back: 'q=u00' });
    t.equal(flash(deleted), 'Deleted u003.');
    t.equal(new URL(deleted.url).search, '?q=u00');
    t.notOk(rows(deleted).includes('u003'), 'gone from the table');
    t.equal((await api('/users/u003')).status, 404, 'and from the hub');
    t.equal((await admin.get(`/hub/admin/delete?user=${ADMIN}`)).status, 400, 'no delete step for oneself');
    t.match(flash(await admin.submit(confirm, '/hub/admin/delete', { user: ADMIN, confirm: 'yes' })), /cannot delete yourself/);
    t.equal((await api(`/users/${ADMIN}`)).status, 200);
  });
});

t.test('local accounts: the page links to the accounts page', async (t) => {
  const th = await startTestHub(t, { config: { authenticator: { kind: 'local', allow_all: false, admin_users: [ADMIN] } } });
  // The configured admin sets a password through the one-time set-up link, which logs them in.
  const c = new BrowserClient(th.publicUrl);
  const token = th.hub.adminSetup.open(ADMIN);
  const password = 'boss-password-1';
  const home = await c.submit(await c.get(`/hub/setup-admin?token=${token}`), '/hub/setup-admin', { token, password, password_confirm: password });
  t.equal(new URL(home.url).pathname, '/hub/home', 'logged in');
  const page = await c.get('/hub/admin');
  t.equal(page.status, 200);
  t.match(page.text, /<a id="admin-accounts" href="\/hub\/authorize">Accounts: approvals, unlocks, password resets<\/a>/);
});
