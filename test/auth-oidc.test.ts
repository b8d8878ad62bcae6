import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { BrowserClient, type Page } from './support/browser-client.js';
import { startOidcTestProvider, type OidcTestProvider, type TestAccount } from './support/oidc-test-provider.js';
import { freePort } from './support/free-port.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * Acceptance 1 of issue #5: OpenID Connect login against a real OpenID provider (oidc-provider from
 * npm) on 127.0.0.1. A browser-like client follows every redirect (hub -> provider -> login form ->
 * hub callback) and ends logged in; the groups claim becomes hub groups (manage_groups), admin comes
 * from a claim, a user outside allowed_groups gets a clear 403 page, and every failure (denied
 * consent, state mismatch, provider down) ends on a page with a retry link, never in a redirect loop.
 */

const TOKEN = randomBytes(16).toString('hex');
process.env.JUPYTERHUB_CRYPT_KEY ??= randomBytes(32).toString('hex');

const accounts: TestAccount[] = [
  { sub: 'u-alice', preferred_username: 'Alice', email: 'alice@example.edu', groups: ['physics-101', 'teachers'] },
  { sub: 'u-bob', preferred_username: 'bob', groups: ['physics-101'] },
  { sub: 'u-eve', preferred_username: 'eve', groups: ['chemistry'] },
  { sub: 'u-dana', preferred_username: 'dana', groups: ['physics-101'] },
];

// Access tokens live 30 s, under the authenticator's 60 s refresh margin, and the hub re-checks a login
// on every request (auth_refresh_age: 0): each request of a logged-in user refreshes the tokens.
const idp: OidcTestProvider = await startOidcTestProvider(t, { accounts, accessTokenTtl: 30 });
const th: TestHub = await startTestHub(t, {
  config: {
    hub: { api_tokens: { [TOKEN]: 'ops' }, redirect_to_server: false },
    authenticator: {
      kind: 'oidc',
      allow_all: false,
      admin_users: ['ops'],
      oidc_issuer: idp.issuer,
      client_id: idp.clientId,
      client_secret: idp.clientSecret,
      allow_insecure_http: true,
      scope: ['openid', 'profile', 'email', 'groups'],
      allowed_groups: ['physics-101'],
      admin_groups: ['teachers'],
      manage_groups: true,
      enable_auth_state: true,
      auth_refresh_age: 0,
      login_service: 'Example University',
      // Several refusals below come from one address; the hub's per-address limit is not under test here.
      login_rate_limit: { max_failures: 50 },
    },
  },
});
idp.allowRedirectUri(`${th.publicUrl}/hub/oauth_callback`);

async function api(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${th.publicUrl}/hub/api${path}`, { headers: { authorization: `token ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** The text a person reads on a page: tags dropped, entities decoded, whitespace collapsed. */
const textOf = (page: Page) =>
  page.text.replace(/<script[\s\S]*?<\/script>/g, ' ').replace(/<[^>]*>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ');

/** The href of the link whose text is `label`. */
const linkTo = (page: Page, label: string) =>
  [...page.text.matchAll(/<a\b[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)].find((m) => m[2]!.replace(/<[^>]*>/g, '').trim() === label)?.[1]?.replace(/&amp;/g, '&');

/** From the hub's front door to the provider's login form. */
async function toProviderForm(browser: BrowserClient): Promise<Page> {
  const login = await browser.get('/hub/login');
  t.equal(login.status, 200);
  const button = linkTo(login, 'Sign in with Example University');
  if (!button) throw new Error(`no sign-in button on the login page: ${textOf(login).slice(0, 300)}`);
  const form = await browser.get(button);
  if (!form.url.startsWith(idp.issuer)) throw new Error(`expected the provider's login form, got ${form.status} ${form.url}`);
  return form;
}

/** Posts the provider's form (sign in, or Cancel) and follows the redirects wherever they end. */
function submitProviderForm(browser: BrowserClient, form: Page, login: string | null): Promise<Page> {
  const action = /action="([^"]*\/(?:login|abort))"/g;
  const actions = [...form.text.matchAll(action)].map((m) => new URL(m[1]!, form.url).href);
  const target = actions.find((a) => a.endsWith(login === null ? '/abort' : '/login'))!;
  return browser.submit(form, target, login === null ? {} : { login, password: 'secret' });
}

async function signIn(login: string): Promise<{ browser: BrowserClient; page: Page }> {
  const browser = new BrowserClient(th.publicUrl);
  const page = await submitProviderForm(browser, await toProviderForm(browser), login);
  return { browser, page };
}

function assertRetryPage(t: Test, browser: BrowserClient, page: Page, status: number, message: RegExp | string) {
  t.equal(page.status, status, `ends on a ${status} page (hops: ${browser.hops.join(' | ')})`);
  t.equal(new URL(page.url).pathname, '/hub/oauth_callback', 'the callback itself shows the error (no redirect)');
  t.match(textOf(page), message);
  t.match(linkTo(page, 'Try again'), /^\/hub\/oauth_login/, 'with a "Try again" link');
  t.ok(browser.hops.filter((h) => h.startsWith('3')).length <= 6, 'no redirect loop');
}

t.test('alice signs in through the provider and lands on her home page, admin and in her groups', async (t) => {
  const { browser, page } = await signIn('Alice');
  t.equal(page.status, 200, `logged in (hops: ${browser.hops.join(' | ')})`);
  t.equal(new URL(page.url).pathname, '/hub/home');
  t.ok(browser.hops.some((h) => h.startsWith('302 /hub/oauth_callback')), 'through the OAuth callback');
  t.ok(await browser.cookieValue('jupyterhub-hub-login', '/hub/'), 'with a hub session cookie');
  t.equal(await browser.cookieValue('tshub-login-pending', '/hub/'), undefined, 'and the pending-login cookie is gone');

  const alice = await api('/users/alice');
  t.equal(alice.status, 200, 'the username claim, normalised, is the hub user');
  t.equal(alice.body.admin, true, 'admin from the groups claim (admin_groups)');
  t.same([...alice.body.groups].sort(), ['physics-101', 'teachers'], 'groups claim -> hub groups');
  const group = await api('/groups/physics-101');
  t.same(group.body.users, ['alice'], 'the group exists with alice in it');

  // An admin may read auth_state (admin:auth_state): what the provider said is kept for spawners.
  const authState = alice.body.auth_state;
  t.type(authState?.access_token, 'string', 'auth_state keeps the access token');
  t.type(authState?.refresh_token, 'string', 'and the refresh token');
  t.match(authState?.oauth_user, { sub: 'u-alice', email: 'alice@example.edu' }, 'and the claims');

  const out = await browser.request('/hub/logout');
  t.equal(out.status, 302);
  const bye = new URL(out.headers.get('location')!);
  t.equal(bye.origin, idp.issuer, 'logout continues at the provider (end_session_endpoint)');
  t.equal(bye.searchParams.get('post_logout_redirect_uri'), `${th.publicUrl}/hub/login`, 'and comes back to the hub login page');
  t.equal((await browser.request('/hub/home')).status, 302, 'the hub session is gone');
});

t.test('bob: allowed by group, not admin; groups are replaced at the next login', async (t) => {
  const { page } = await signIn('bob');
  t.equal(new URL(page.url).pathname, '/hub/home');
  const bob = await api('/users/bob');
  t.equal(bob.body.admin, false);
  t.same(bob.body.groups, ['physics-101']);

  accounts[1]!.groups = ['physics-101', 'teachers'];
  await signIn('bob');
  const promoted = await api('/users/bob');
  t.equal(promoted.body.admin, true, 'now in admin_groups');
  t.same([...promoted.body.groups].sort(), ['physics-101', 'teachers']);
  accounts[1]!.groups = ['physics-101'];
  await signIn('bob');
  const again = await api('/users/bob');
  t.same(again.body.groups, ['physics-101'], 'left the teachers group');
  t.equal(again.body.admin, false, 'and is no longer admin');
});

t.test('eve, outside allowed_groups, gets a clear 403 page and no session', async (t) => {
  const { browser, page } = await signIn('eve');
  assertRetryPage(t, browser, page, 403, /eve is not allowed/);
  t.equal((await browser.request('/hub/home')).status, 302, 'not logged in');
  t.equal((await api('/users/eve')).status, 404, 'no user created');
});

t.test('denied consent: a clear page with a retry link', async (t) => {
  const browser = new BrowserClient(th.publicUrl);
  const page = await submitProviderForm(browser, await toProviderForm(browser), null);
  assertRetryPage(t, browser, page, 403, /cancelled/i);
  const retry = await browser.get(linkTo(page, 'Try again')!);
  t.ok(retry.url.startsWith(idp.issuer), 'Try again goes back to the provider');
});

t.test('state mismatch (login started again in another tab): a clear page, no loop', async (t) => {
  const browser = new BrowserClient(th.publicUrl);
  const firstTab = await toProviderForm(browser);
  await toProviderForm(browser); // the second tab replaces the pending login
  const page = await submitProviderForm(browser, firstTab, 'bob');
  assertRetryPage(t, browser, page, 400, /state mismatch/);

  const stale = new BrowserClient(th.publicUrl);
  const direct = await stale.get('/hub/oauth_callback?code=abc&state=def');
  assertRetryPage(t, stale, direct, 400, /expired or was opened in another browser/);
});

t.test('provider down at the callback: a clear page; the retry works once it is back', async (t) => {
  const browser = new BrowserClient(th.publicUrl);
  const form = await toProviderForm(browser);
  const action = new URL(/action="([^"]*\/login)"/.exec(form.text)![1]!, form.url).href;
  let res = await browser.request(action, {
    method: 'POST',
    body: new URLSearchParams({ login: 'bob', password: 'secret' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  // Follow the provider's own redirects up to the hub callback, then take the provider down.
  while (!res.headers.get('location')!.startsWith(th.publicUrl)) res = await browser.request(new URL(res.headers.get('location')!, res.url).href);
  await idp.stop();
  t.teardown(() => idp.start());
  const page = await browser.get(res.headers.get('location')!);
  assertRetryPage(t, browser, page, 502, /Could not reach Example University/);
  await idp.start();
  const retried = await browser.get(linkTo(page, 'Try again')!);
  t.equal(new URL(retried.url).pathname, '/hub/home', `Try again signs in (the provider session is still there): ${retried.status} ${textOf(retried).slice(0, 400)}`);
});

t.test('refresh_user: tokens are refreshed, claims re-read, and a refused refresh ends the session', async (t) => {
  const { browser, page } = await signIn('dana');
  t.equal(new URL(page.url).pathname, '/hub/home');
  const first = (await api('/users/dana')).body.auth_state;
  t.type(first?.refresh_token, 'string', 'a refresh token was kept');
  t.equal((await browser.get('/hub/home')).status, 200, 'the next request is served');
  const second = (await api('/users/dana')).body;
  t.not(second.auth_state.access_token, first.access_token, 'with a refreshed access token in auth_state');

  idp.accounts.get('u-dana')!.groups = ['physics-101', 'teachers'];
  await browser.get('/hub/home');
  const promoted = (await api('/users/dana')).body;
  t.equal(promoted.admin, true, 'the refresh re-read the groups claim: admin without logging in again');
  t.same([...promoted.groups].sort(), ['physics-101', 'teachers']);

  idp.accounts.delete('u-dana');
  const after = await browser.request('/hub/home');
  t.equal(after.status, 302, 'once the provider refuses the refresh token, the hub session ends');
  t.match(after.headers.get('location') ?? '', /\/hub\/login/, 'and the person is sent to log in again');
});

t.test('an unreachable issuer stops the hub at start-up, naming the key path (acceptance 5)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-oidc-startup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const issuer = `http://127.0.0.1:${await freePort()}/realms/school`;
  const result = validateConfig(
    {
      hub: { data_dir: dir, db_url: 'pglite:memory:' },
      authenticator: { kind: 'oidc', oidc_issuer: issuer, client_id: 'c', allow_insecure_http: true, allowed_groups: ['physics-101'] },
    },
    defaultRegistry(),
  );
  if (!result.ok) throw new Error(result.errors.join('; '));
  await t.rejects(
    buildHub({ config: result.config, logger: pino({ level: 'silent' }) }),
    { message: `authenticator.oidc_issuer: discovery at ${issuer}/.well-known/openid-configuration failed: fetch failed: ECONNREFUSED` },
  );
});

t.test('bad oauth options are reported with their key path', async (t) => {
  const errors = (authenticator: Record<string, unknown>) => {
    const r = validateConfig({ authenticator: { kind: 'generic-oauth', allow_all: true, ...authenticator } }, defaultRegistry());
    return r.ok ? [] : r.errors;
  };
  t.same(errors({ oidc_issuer: 'https://idp.example.edu/realms/school', scope: ['openid', 'groups'], admin_groups: ['teachers'] }), [], 'a good config');
  t.match(errors({ oidc_isuer: 'https://x' }), [/^authenticator\.oidc_isuer: unknown option; did you mean 'oidc_issuer'\?/]);
  t.match(errors({ scope: 'openid profile' }), [/^authenticator\.scope: must be array/]);
  t.match(errors({ enable_pkce: 'no' }), [/^authenticator\.enable_pkce: must be boolean/]);
});
