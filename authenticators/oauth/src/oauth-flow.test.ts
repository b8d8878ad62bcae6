import t from 'tap';
import { HubError } from '@tshub/plugin-api';
import type { Authenticator, JsonObject, PluginLogger, PluginStore } from '@tshub/plugin-api';
import { freePort } from '../../../test/support/free-port.js';
import { startOidcTestProvider } from '../../../test/support/oidc-test-provider.js';
import { oauthAuthenticator } from './index.js';
import type { OAuthConfig } from './options.js';

// Plugin-level: the hub's side of the flow is played by calling loginRedirect/authenticate as the hub
// does, against the real oidc-provider. The end-to-end suite is test/auth-oidc.test.ts.

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
const noStore = {} as PluginStore;
const CALLBACK = 'http://127.0.0.1:9/hub/oauth_callback';

const idp = await startOidcTestProvider(t, {
  accounts: [
    { sub: 'u-alice', preferred_username: 'alice', email: 'alice@example.edu', groups: ['physics-101', 'teachers'] },
    { sub: 'u-bob', preferred_username: 'bob', groups: ['physics-101'] },
    { sub: 'u-nameless', email: 'x@example.edu' },
  ],
});
idp.allowRedirectUri(CALLBACK);

function make(config: OAuthConfig = {}): Authenticator {
  const base: OAuthConfig = {
    oidc_issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    allow_insecure_http: true,
    scope: ['openid', 'profile', 'email', 'groups'],
  };
  return oauthAuthenticator.create({ config: { ...base, ...config }, store: noStore, log: silent, urls: { hubPrefix: '/hub/', publicOrigin: 'http://127.0.0.1:9' } });
}

/** The hub's part: redirect, provider sign-in, callback. */
async function login(auth: Authenticator, who: string, opts: { deny?: boolean; tamper?: (q: Record<string, string>, pending: JsonObject) => void } = {}) {
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
  const back = await idp.signIn(url, who, opts);
  const fields = Object.fromEntries(back.searchParams);
  opts.tamper?.(fields, pending);
  return auth.authenticate({ fields, pending, callbackUrl: CALLBACK, currentUrl: back.href, remoteAddress: '127.0.0.1' });
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('expected a HubError');
};

t.test('authorization code flow with PKCE: name, groups, admin from claims; tokens in auth_state', async (t) => {
  const auth = make({ admin_groups: ['teachers'], login_service: 'Example University' });
  t.equal(auth.loginKind, 'redirect');
  t.equal(auth.loginLabel, 'Sign in with Example University');
  await auth.validateConfig!();
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
  const u = new URL(url);
  t.equal(u.origin, idp.issuer);
  t.equal(u.searchParams.get('code_challenge_method'), 'S256');
  t.equal(u.searchParams.get('redirect_uri'), CALLBACK);
  t.equal(u.searchParams.get('state'), pending.state);
  t.equal(u.searchParams.get('scope'), 'openid profile email groups');
  t.type(pending.code_verifier, 'string');
  t.type(pending.nonce, 'string');

  const alice = await login(auth, 'alice');
  t.equal(alice?.name, 'alice');
  t.same(alice?.groups, ['physics-101', 'teachers']);
  t.equal(alice?.admin, true, 'in admin_groups');
  const st = alice!.authState!;
  t.type(st.access_token, 'string');
  t.type(st.refresh_token, 'string');
  t.type(st.id_token, 'string');
  t.ok(typeof st.expires_at === 'number' && st.expires_at > Date.now() / 1000 + 3000, 'expires_at from expires_in');
  t.match(st.oauth_user, { sub: 'u-alice', email: 'alice@example.edu', groups: ['physics-101', 'teachers'] }, 'claims (userinfo merged over id_token)');

  const bob = await login(auth, 'bob');
  t.equal(bob?.admin, false, 'admin_groups set: not in it means not admin');
  t.same(bob?.groups, ['physics-101']);
});

t.test('allowed_groups and admin_groups drive checkAllowed and hasAllowRules', async (t) => {
  t.equal(make().hasAllowRules, false);
  const auth = make({ allowed_groups: ['physics-101'], admin_groups: ['teachers'] });
  t.equal(auth.hasAllowRules, true);
  t.equal(await auth.checkAllowed!('bob', { name: 'bob', groups: ['physics-101'] }), true);
  t.equal(await auth.checkAllowed!('eve', { name: 'eve', groups: ['chemistry'] }), false);
  t.equal(await auth.checkAllowed!('eve', { name: 'eve' }), false, 'no groups claim');
  t.equal(await auth.checkAllowed!('ted', { name: 'ted', groups: ['teachers'], admin: true }), true, 'admins from admin_groups are allowed');
});

t.test('refusals are clear HubErrors', async (t) => {
  const auth = make();
  const denied = await refusal(login(auth, 'alice', { deny: true }));
  t.equal(denied.status, 403);
  t.match(denied.message, /cancelled at OpenID Connect/);

  const mismatch = await refusal(login(auth, 'alice', { tamper: (q) => (q.state = 'forged') }));
  t.equal(mismatch.status, 400);
  t.match(mismatch.message, /state mismatch/);

  const stale = await refusal(auth.authenticate({ fields: { code: 'x', state: 'y' }, pending: null, remoteAddress: '::1' }));
  t.equal(stale.status, 400);
  t.match(stale.message, /expired or was opened in another browser/);

  const verifier = await refusal(login(auth, 'alice', { tamper: (_q, p) => (p.code_verifier = 'x'.repeat(43)) }));
  t.equal(verifier.status, 400, 'a wrong PKCE verifier is refused by the provider');
  t.match(verifier.message, /did not accept this sign-in \(invalid_grant\)/);

  const nameless = await refusal(login(auth, 'u-nameless'));
  t.equal(nameless.status, 403);
  t.match(nameless.message, /no 'preferred_username'/);

  const byEmail = await login(make({ username_claim: 'email' }), 'u-nameless');
  t.equal(byEmail?.name, 'x@example.edu', 'username_claim chooses the claim');
  t.same(byEmail?.groups, [], 'no groups claim: in no group (manage_groups removes stale memberships)');
});

t.test('a replayed callback is refused; provider down gives 503', async (t) => {
  const auth = make();
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
  const back = await idp.signIn(url, 'bob');
  const input = { fields: Object.fromEntries(back.searchParams), pending, remoteAddress: '::1' };
  t.equal((await auth.authenticate(input))?.name, 'bob');
  const replay = await refusal(auth.authenticate(input));
  t.equal(replay.status, 400, 'code used twice');

  const again = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '127.0.0.1' });
  const back2 = await idp.signIn(again.url, 'bob');
  await idp.stop();
  t.teardown(() => idp.start());
  const down = await refusal(auth.authenticate({ fields: Object.fromEntries(back2.searchParams), pending: again.pending, remoteAddress: '::1' }));
  t.equal(down.status, 503);
  t.match(down.message, /Could not reach OpenID Connect/);
  const fresh = make();
  const noDiscovery = await refusal(fresh.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' }));
  t.equal(noDiscovery.status, 503, 'discovery failure at login time');
  await idp.start();
  t.ok((await fresh.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' })).url, 'a failed discovery is retried');
});

t.test('refreshUser: fresh token stays, expired token is refreshed, bad refresh token logs out', async (t) => {
  const auth = make({ admin_groups: ['teachers'] });
  const alice = (await login(auth, 'alice'))!;
  const st = alice.authState!;
  t.equal(await auth.refreshUser!({ name: 'alice', authState: st }), true, 'not expired');
  t.equal(await auth.refreshUser!({ name: 'alice', authState: null }), true, 'no auth_state: nothing to check');

  const expired = { ...st, expires_at: Math.floor(Date.now() / 1000) - 10 };
  const refreshed = await auth.refreshUser!({ name: 'alice', authState: expired });
  t.type(refreshed, 'object');
  const model = refreshed as { name: string; admin?: boolean; groups?: string[]; authState: JsonObject };
  t.equal(model.name, 'alice');
  t.not(model.authState.access_token, st.access_token, 'new access token');
  t.ok((model.authState.expires_at as number) > Date.now() / 1000, 'new expiry');
  t.same(model.groups, ['physics-101', 'teachers'], 'groups re-read');
  t.equal(model.admin, true);

  t.equal(await auth.refreshUser!({ name: 'alice', authState: { ...expired, refresh_token: 'bogus' } }), false, 'refresh refused');
  t.equal(await auth.refreshUser!({ name: 'alice', authState: { ...expired, refresh_token: null } }), false, 'no refresh token');
});

t.test('logoutRedirect: end_session_endpoint with id_token_hint, or logout_redirect_url', async (t) => {
  const auth = make();
  const alice = (await login(auth, 'alice'))!;
  const hubLogin = 'http://127.0.0.1:9/hub/login';
  const out = new URL(auth.logoutRedirect!({ hubLoginUrl: hubLogin, authState: alice.authState! })!);
  t.equal(out.origin, idp.issuer);
  t.equal(out.searchParams.get('post_logout_redirect_uri'), hubLogin);
  t.equal(out.searchParams.get('id_token_hint'), alice.authState!.id_token);
  const res = await fetch(out, { redirect: 'manual' });
  t.equal(res.status, 200, 'the provider accepts the end-session request (confirmation page)');
  t.equal(make({ oidc_logout: false }).logoutRedirect!({ hubLoginUrl: hubLogin, authState: null }), null);
  t.equal(make({ logout_redirect_url: 'https://idp.example.edu/bye' }).logoutRedirect!({ hubLoginUrl: hubLogin, authState: null }), 'https://idp.example.edu/bye');
});

t.test('explicit endpoints without discovery (GenericOAuthenticator-style config)', async (t) => {
  // The authorize URL's host differs from the issuer the provider puts in its answers: without
  // discovery the issuer is unknown, and the login must still work from userdata_url.
  const port = new URL(idp.issuer).port;
  const auth = make({ oidc_issuer: '', authorize_url: `http://localhost:${port}/auth`, token_url: `${idp.issuer}/token`, userdata_url: `${idp.issuer}/me` });
  await auth.validateConfig!();
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' });
  t.notOk(new URL(url).searchParams.has('nonce'), 'no nonce: the id_token cannot be validated without an issuer');
  const back = await idp.signIn(url.replace('localhost', '127.0.0.1'), 'alice');
  t.ok(back.searchParams.get('iss'), 'the provider sends an iss parameter');
  const alice = await auth.authenticate({ fields: Object.fromEntries(back.searchParams), pending, remoteAddress: '::1' });
  t.equal(alice?.name, 'alice');
  t.same(alice?.groups, ['physics-101', 'teachers'], 'claims from userdata_url');
  t.type(alice?.authState?.id_token, 'string', 'the id_token is still kept in auth_state');
  t.equal(alice?.authState?.tshub_unvalidated_id_token, undefined);
});

t.test('validateConfig names the key path', async (t) => {
  const msg = async (c: OAuthConfig) => (await refusal(make(c).validateConfig!())).message;
  t.match(await msg({ allow_insecure_http: false }), /^authenticator\.oidc_issuer: not an https URL/);
  t.match(await msg({ oidc_issuer: 'not a url' }), /^authenticator\.oidc_issuer: not a URL/);
  t.match(await msg({ oidc_issuer: '' }), /authenticator\.oidc_issuer: set oidc_issuer \(OpenID Connect discovery\), or both authorize_url and token_url/);
  t.match(await msg({ client_id: '' }), /authenticator\.client_id: required/);
  t.match(await msg({ oidc_issuer: '', authorize_url: 'https://a/auth', token_url: 'https://a/token' }), /^authenticator\.userdata_url: required without oidc_issuer/);
  t.match(await msg({ logout_redirect_url: '::' }), /authenticator\.logout_redirect_url: not a URL/);
  const closed = `http://127.0.0.1:${await freePort()}/realms/x`;
  t.match(await msg({ oidc_issuer: closed }), new RegExp(`^authenticator\\.oidc_issuer: discovery at ${closed}/\\.well-known/openid-configuration failed: fetch failed: ECONNREFUSED`));
  t.match(await msg({ oidc_issuer: `${idp.issuer}/nope` }), /^authenticator\.oidc_issuer: discovery at .* failed: unexpected HTTP response status code \(HTTP 404\)/, 'discovery answering 404');
});
