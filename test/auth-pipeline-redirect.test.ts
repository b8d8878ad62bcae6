// The hub's login pipeline for redirect logins (issue #5, hub part), black-box through the real proxy:
// oauth_login / oauth_callback, the allow rules, username mapping, managed groups, post_auth_hook,
// per-address rate limiting, auto_login without loops and the provider's logout redirect. The
// "provider" is test/support/fake-redirect-authenticator.ts: the test plays the browser and the IdP.
import t from 'tap';
import type { AuthModel } from '@tshub/plugin-api';
import { BrowserClient, type Page } from './support/browser-client.js';
import { fakeRedirectAuthenticator, FAKE_IDP } from './support/fake-redirect-authenticator.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { startAuthHub, type AuthHub } from './support/auth-test-hub.js';

/** Starts a login; returns the provider URL the hub sent the browser to. */
async function startLogin(client: BrowserClient, next: string | null, headers: Record<string, string> = {}): Promise<Page> {
  return client.request(`/hub/oauth_login${next === null ? '' : `?next=${encodeURIComponent(next)}`}`, { headers });
}

/** Plays the provider: back to the callback with `code` and the state the hub's plugin issued. */
async function returnFromProvider(client: BrowserClient, authorize: Page, query: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
  const idp = new URL(authorize.headers.get('location')!);
  const callback = new URL(idp.searchParams.get('redirect_uri')!);
  for (const [k, v] of Object.entries({ state: idp.searchParams.get('state')!, ...query })) callback.searchParams.set(k, v);
  return client.request(callback.href, { headers });
}

async function loginAs(client: BrowserClient, code: string, next: string | null = null, headers: Record<string, string> = {}): Promise<Page> {
  return returnFromProvider(client, await startLogin(client, next, headers), { code }, headers);
}

const groupsOf = async (h: AuthHub, name: string) => (await h.hub.ctx.db.selectFrom('user_groups').innerJoin('groups', 'groups.id', 'user_groups.group_id')
  .innerJoin('users', 'users.id', 'user_groups.user_id').select('groups.name').where('users.name', '=', name).orderBy('groups.name').execute()).map((r) => r.name);

t.test('redirect logins through the pipeline', async (t) => {
  const { plugin, control } = fakeRedirectAuthenticator();
  const spawner = recordingSpawner();
  const people: Record<string, AuthModel> = {
    'c-alice': { name: '  Alice@Example.org ', groups: ['physics', 'lab-a'] },
    'c-alice2': { name: 'alice', groups: ['lab-b'] },
    'c-bob': { name: 'Bob', admin: true },
    'c-eve': { name: 'eve' },
    'c-mallory': { name: 'mallory' },
    'c-bad': { name: 'bad name!' },
    'c-carol': { name: 'carol' },
    'c-dave': { name: 'dave' },
  };
  Object.assign(control.people, people);
  control.allowedByPlugin.push('carol', 'dave');
  const hookCalls: string[] = [];
  const h = await startAuthHub(t, {
    authenticators: [plugin], spawners: [spawner.plugin],
    hub: { redirect_to_server: false },
    authenticator: {
      kind: 'fake-redirect', allowed_users: ['alice'], admin_users: ['root'], blocked_users: ['mallory'], manage_groups: true,
      username_map: { 'alice@example.org': 'alice' }, username_pattern: '[a-z][a-z0-9-]*',
      login_rate_limit: { max_failures: 3, window_seconds: 60 },
      post_auth_hook: (model: AuthModel, ctx: { kind: string }) => {
        hookCalls.push(`${model.name}:${ctx.kind}`);
        if (model.name === 'dave') return null;
        return model.name === 'carol' ? { ...model, groups: ['from-hook'] } : model;
      },
    },
  });
  const client = () => new BrowserClient(h.publicUrl);
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  t.test('the login page offers one button to the provider, keeping next', async (t) => {
    const page = await client().get('/hub/login?next=%2Fhub%2Ftoken');
    t.equal(page.status, 200);
    const buttons = [...page.text.matchAll(/<a id="login-service"[^>]*href="([^"]+)"[^>]*>([^<]*)</g)];
    t.equal(buttons.length, 1, 'one sign-in button');
    t.equal(buttons[0]![1]!.replace(/&amp;/g, '&'), '/hub/oauth_login?next=%2Fhub%2Ftoken');
    t.equal(buttons[0]![2], 'Sign in with Fake IdP', 'the authenticator\'s label');
    t.notMatch(page.text, /<form id="login-form"/, 'no username/password form');
    t.notMatch(page.text, /href="\/hub\/signup"/, 'no sign-up link without an account manager');
  });

  t.test('oauth_login keeps the pending state in a signed, HttpOnly, Lax, 10-minute cookie and redirects to the provider', async (t) => {
    const c = client();
    const res = await startLogin(c, '/hub/token', from('10.0.0.1'));
    t.equal(res.status, 302);
    t.ok(res.headers.get('location')!.startsWith(FAKE_IDP + '?'), 'sent to the provider');
    t.equal(control.callbackUrls.at(-1), `${h.publicUrl}/hub/oauth_callback`, 'callback URL from the origin the browser used');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('tshub-login-pending='))!;
    t.ok(cookie, 'pending cookie set');
    t.match(cookie, /HttpOnly/i);
    t.match(cookie, /SameSite=Lax/i);
    t.match(cookie, /Path=\/hub\//);
    t.match(cookie, /Max-Age=600/);
  });

  t.test('a good callback logs in, maps and normalises the name, replaces groups, lands on next', async (t) => {
    const c = client();
    const res = await loginAs(c, 'c-alice', '/hub/token', from('10.0.0.2'));
    t.equal(res.status, 302);
    t.equal(res.headers.get('location'), '/hub/token', 'to the saved next');
    t.ok(res.headers.getSetCookie().some((s) => /^tshub-login-pending=;/.test(s)), 'pending cookie cleared');
    t.same(control.lastInput?.pending && Object.keys(control.lastInput.pending), ['state'], 'plugin got its pending state back');
    t.match(control.lastInput?.currentUrl, new RegExp(`^${h.publicUrl}/hub/oauth_callback\\?`), 'and the current URL');
    const me = await c.api('/user');
    t.equal(me.status, 200);
    t.equal(JSON.parse(me.text).name, 'alice', 'lower-cased, trimmed, then username_map');
    t.same(await groupsOf(h, 'alice'), ['lab-a', 'physics'], 'groups created from the model');
    await loginAs(client(), 'c-alice2', null, from('10.0.0.2'));
    t.same(await groupsOf(h, 'alice'), ['lab-b'], 'the next login replaces the memberships');
    t.same(JSON.parse((await c.api('/user')).text).groups, ['lab-b'], 'and the logged-in identity sees the change at once');
  });

  t.test('admin from the model is allowed and becomes admin; without next the home page', async (t) => {
    const c = client();
    const res = await loginAs(c, 'c-bob', null, from('10.0.0.3'));
    t.equal(res.headers.get('location'), '/hub/home');
    t.equal(JSON.parse((await c.api('/user')).text).admin, true);
  });

  t.test('checkAllowed and post_auth_hook', async (t) => {
    const c = client();
    t.equal((await loginAs(c, 'c-carol', null, from('10.0.0.4'))).status, 302, 'allowed by the plugin rule');
    t.same(await groupsOf(h, 'carol'), ['from-hook'], 'the hook rewrote the model');
    t.ok(hookCalls.includes('carol:fake-redirect'), 'hook called with the kind');
    const refused = await loginAs(client(), 'c-dave', null, from('10.0.0.5'));
    t.equal(refused.status, 403, 'hook returned null: refused');
    t.notOk(await h.hub.ctx.db.selectFrom('users').select('id').where('name', '=', 'dave').executeTakeFirst(), 'no user created');
    t.notOk(hookCalls.some((c) => c.startsWith('eve')), 'the hook never ran for someone not allowed');
  });

  const refusals: Array<[string, string, Record<string, string>, number, RegExp]> = [
    ['not allowed', '10.1.0.1', { code: 'c-eve' }, 403, /User eve is not allowed to use this hub/],
    ['blocked', '10.1.0.2', { code: 'c-mallory' }, 403, /User mallory is not allowed/],
    ['invalid name', '10.1.0.3', { code: 'c-bad' }, 400, /not a valid username/],
    ['unknown code', '10.1.0.4', { code: 'nobody' }, 400, /did not confirm who you are/],
    ['consent denied', '10.1.0.5', { error: 'access_denied', error_description: 'The user said no' }, 403, /cancelled or refused.*The user said no/],
    ['provider error', '10.1.0.6', { error: 'server_error' }, 400, /reported an error: server_error/],
  ];
  for (const [what, ip, query, status, message] of refusals) {
    t.test(`${what}: a clear ${status} page with a Try again link, no redirect`, async (t) => {
      const c = client();
      const res = await returnFromProvider(c, await startLogin(c, '/hub/home', from(ip)), query, from(ip));
      t.equal(res.status, status);
      t.equal(res.headers.get('location'), null, 'no redirect');
      t.match(res.text, message);
      t.match(res.text, /<a[^>]*href="\/hub\/oauth_login\?next=%2Fhub%2Fhome"[^>]*>\s*Try again/, 'retry keeps next');
      t.equal((await c.request('/hub/api/user')).status, 403, 'not logged in');
    });
  }

  t.test('state mismatch and a missing pending cookie are 400s from the plugin', async (t) => {
    const c = client();
    const authorize = await startLogin(c, null, from('10.2.0.1'));
    const mismatch = await returnFromProvider(c, authorize, { code: 'c-alice', state: 'forged' }, from('10.2.0.1'));
    t.equal(mismatch.status, 400);
    t.match(mismatch.text, /state mismatch/);
    const fresh = await returnFromProvider(client(), authorize, { code: 'c-alice' }, from('10.2.0.2'));
    t.equal(fresh.status, 400, 'another browser (no cookie)');
    t.equal(control.lastInput?.pending, null, 'the plugin was told the pending state is missing');
    const tampered = client();
    const a2 = await startLogin(tampered, null, from('10.2.0.3'));
    const jar = await tampered.jar.getCookies(h.publicUrl + '/hub/');
    const pending = jar.find((k) => k.key === 'tshub-login-pending')!;
    pending.value = pending.value.replace(/^(.{10})./, '$1x');
    await tampered.jar.setCookie(pending, h.publicUrl + '/hub/');
    t.equal((await returnFromProvider(tampered, a2, { code: 'c-alice' }, from('10.2.0.3'))).status, 400, 'tampered cookie counts as missing');
  });

  t.test('per-address rate limit on callbacks: 429 with Retry-After; only real refusals count', async (t) => {
    const ip = { 'x-forwarded-for': '10.3.0.1' };
    const late = client();
    const begun = await startLogin(late, null, ip);
    for (let i = 0; i < 3; i++) t.equal((await loginAs(client(), 'c-eve', null, ip)).status, 403, `failure ${i + 1}`);
    const limited = await returnFromProvider(late, begun, { code: 'c-alice' }, ip);
    t.equal(limited.status, 429, 'even good credentials wait');
    const retry = Number(limited.headers.get('retry-after'));
    t.ok(retry > 0 && retry <= 60, `Retry-After ${retry}`);
    t.match(limited.text, /Too many failed sign-in attempts/);
    t.equal((await startLogin(client(), null, ip)).status, 429, 'oauth_login is limited too');
    t.equal((await loginAs(client(), 'c-alice', null, { 'x-forwarded-for': '10.3.0.2' })).status, 302, 'other addresses are not affected');
    const other = { 'x-forwarded-for': '10.3.0.3' };
    for (let i = 0; i < 2; i++) await loginAs(client(), 'c-eve', null, other);
    t.equal((await loginAs(client(), 'c-alice', null, other)).status, 302, 'success below the limit');
    await loginAs(client(), 'c-eve', null, other);
    t.equal((await startLogin(client(), null, other)).status, 429, 'a success of their own does not reset the address count');
    // Provider errors and stray callbacks guess nothing: they are not counted (no lock-out by <img> tags).
    const stray = { 'x-forwarded-for': '10.3.0.4' };
    for (let i = 0; i < 5; i++) await client().request('/hub/oauth_callback?error=access_denied', { headers: stray });
    t.equal((await loginAs(client(), 'c-alice', null, stray)).status, 302, 'stray callbacks do not lock an address out');
  });

  t.test('no refresh on requests within auth_refresh_age; before a spawn, yes', async (t) => {
    const c = client();
    await loginAs(c, 'c-alice', null, from('10.4.0.1'));
    control.refreshCalls.length = 0;
    for (let i = 0; i < 3; i++) t.equal((await c.api('/user')).status, 200);
    t.same(control.refreshCalls, [], 'a fresh login is not re-checked on requests');
    const spawn = await c.api('/users/alice/server', { method: 'POST' });
    t.ok([201, 202].includes(spawn.status), `spawned (${spawn.status})`);
    t.same(control.refreshCalls, ['alice'], 'refresh_pre_spawn');
    t.ok((await c.api('/users/alice/server', { method: 'DELETE' })).status < 300, 'stopped');
    control.refresh.alice = false;
    const refused = await c.api('/users/alice/server', { method: 'POST' });
    t.match(JSON.parse(refused.text).message, /Your login is no longer valid/, `a revoked login cannot spawn (${refused.status})`);
    t.equal(spawner.contexts.length, 1, 'the spawner was never asked');
    // Her session ended: the home page sends her to log in again (an API call would be refused either way).
    const home = await c.request('/hub/home');
    t.equal(home.status, 302, 'and the user must log in again: the home page redirects');
    t.match(home.headers.get('location'), /^\/hub\/(login|oauth_login)\b/, `to the login (${home.headers.get('location')})`);
    delete control.refresh.alice;
  });
});

t.test('auto_login goes straight to the provider, never loops; logout goes to the provider', async (t) => {
  const { plugin, control } = fakeRedirectAuthenticator();
  control.people['c-ann'] = { name: 'ann' };
  control.logoutUrl = 'https://idp.invalid/logout';
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, { authenticators: [plugin], spawners: [spawner.plugin], authenticator: { kind: 'fake-redirect', auto_login: true, allowed_users: ['ann'] } });
  const c = new BrowserClient(h.publicUrl);
  const login = await c.request('/hub/login?next=%2Fhub%2Fhome');
  t.equal(login.status, 302);
  t.equal(login.headers.get('location'), '/hub/oauth_login?next=%2Fhub%2Fhome', 'login page skipped, next kept');
  // An anonymous visit: home -> login -> oauth_login -> the provider (followed by hand: idp.invalid is not dialled).
  let hop = await c.request('/hub/home');
  const hops: string[] = [];
  while (hop.status === 302 && !hop.headers.get('location')!.startsWith(FAKE_IDP) && hops.length < 5) {
    hops.push(hop.headers.get('location')!);
    hop = await c.request(hop.headers.get('location')!);
  }
  t.ok(hop.headers.get('location')?.startsWith(FAKE_IDP), `an anonymous visit ends at the provider after ${hops.join(' -> ')}`);
  const failed = await returnFromProvider(c, await startLogin(c, '/hub/home'), { error: 'access_denied' });
  t.equal(failed.status, 403, 'a failed callback shows a page');
  t.equal(failed.headers.get('location'), null, 'and does not bounce back to the provider');
  const ok = await loginAs(c, 'c-ann', '/hub/home');
  t.equal(ok.headers.get('location'), '/hub/home');
  const out = await c.request('/hub/logout');
  t.equal(out.status, 302);
  t.equal(out.headers.get('location'), `https://idp.invalid/logout?service=${encodeURIComponent(`${h.publicUrl}/hub/login`)}`, 'single logout at the provider');
  t.equal((await c.request('/hub/api/user')).status, 403, 'the hub session ended');
  control.logoutUrl = null;
  await loginAs(c, 'c-ann');
  const page = await c.request('/hub/logout');
  t.equal(page.status, 200, 'without a provider logout, auto_login shows the logged-out page instead of signing back in');
  t.match(page.text, /You have been logged out/);
});
