import t from 'tap';
import { HubError } from '@tshub/plugin-api';
import type { Authenticator, AuthModel, JsonObject, PluginLogger, PluginStore } from '@tshub/plugin-api';
import { startFakeGithub } from '../../../test/support/fake-github.js';
import { nextLink, parseOrgRule } from './github-profile.js';
import { githubAuthenticator, githubEndpoints } from './index.js';
import type { GithubConfig } from './options.js';

// Plugin-level, against the GitHub fake; the end-to-end suite is test/auth-github.test.ts.

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
const CALLBACK = 'http://127.0.0.1:9/hub/oauth_callback';

const gh = await startFakeGithub(
  t,
  [
    { login: 'Alice-Smith', id: 1, name: 'Alice', orgs: ['physics-dept'], teams: ['physics-dept:ta', 'physics-dept:phys-101', 'chem:lab'] },
    { login: 'bob', id: 2, orgs: ['physics-dept'], teams: ['physics-dept:phys-101'] },
    { login: 'eve', id: 3, orgs: ['elsewhere'] },
    {
      login: 'dana',
      id: 4,
      emails: [
        { email: 'dana@old.example', primary: false, verified: true, visibility: null },
        { email: 'dana@uni.example', primary: true, verified: true, visibility: 'private' },
      ],
    },
    { login: 'pub', id: 5, email: 'pub@public.example', emails: [{ email: 'pub@uni.example', primary: true, verified: true, visibility: 'private' }] },
    { login: 'unverified', id: 6, emails: [{ email: 'new@uni.example', primary: true, verified: false, visibility: 'private' }] },
  ],
  { teamsPageSize: 2 },
);

function make(config: GithubConfig = {}, log: PluginLogger = silent): Authenticator {
  const base: GithubConfig = { github_url: gh.url, client_id: gh.clientId, client_secret: gh.clientSecret, allow_insecure_http: true };
  return githubAuthenticator.create({ config: { ...base, ...config }, store: {} as PluginStore, log, urls: { hubPrefix: '/hub/', publicOrigin: 'http://127.0.0.1:9' } });
}

/** A logger that keeps the warnings, to check what an operator is told. */
function warnings(): { log: PluginLogger; warned: string[] } {
  const warned: string[] = [];
  return { log: { ...silent, warn: (a: unknown, b?: string) => void warned.push(typeof a === 'string' ? a : (b ?? '')) }, warned };
}

async function login(auth: Authenticator, as: string, tamper?: (pending: JsonObject) => void): Promise<AuthModel | null> {
  gh.signedIn = as;
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' });
  const res = await fetch(url, { redirect: 'manual' });
  const back = new URL(res.headers.get('location')!);
  tamper?.(pending);
  return auth.authenticate({ fields: Object.fromEntries(back.searchParams), pending, callbackUrl: CALLBACK, remoteAddress: '::1' });
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

t.test('endpoints: github.com, Enterprise, explicit API URL; Link and rule parsing', async (t) => {
  t.same(githubEndpoints('https://github.com', ''), {
    authorize: 'https://github.com/login/oauth/authorize',
    token: 'https://github.com/login/oauth/access_token',
    api: 'https://api.github.com',
  });
  t.equal(githubEndpoints('https://git.example.edu/', '').api, 'https://git.example.edu/api/v3');
  t.equal(githubEndpoints('https://git.example.edu', 'https://api.example.edu/').api, 'https://api.example.edu');
  t.equal(nextLink('<https://x/user/teams?page=2>; rel="next", <https://x/user/teams?page=5>; rel="last"'), 'https://x/user/teams?page=2');
  t.equal(nextLink('<https://x/user/teams?page=1>; rel="prev"'), null);
  t.same(parseOrgRule('org:team'), { org: 'org', team: 'team' });
  t.same(parseOrgRule('org'), { org: 'org', team: null });
  t.equal(githubAuthenticator.kind, 'github');
});

t.test('login: name from login, github_user in auth_state, PKCE, default scope', async (t) => {
  const auth = make();
  t.equal(auth.loginLabel, 'Sign in with GitHub');
  t.equal(auth.hasAllowRules, false);
  await auth.validateConfig!();
  const { url } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' });
  const u = new URL(url);
  t.equal(`${u.origin}${u.pathname}`, `${gh.url}/login/oauth/authorize`);
  t.equal(u.searchParams.get('scope'), 'read:user');
  t.equal(u.searchParams.get('code_challenge_method'), 'S256');
  t.notOk(u.searchParams.has('nonce'), 'plain OAuth 2: no OpenID nonce');

  gh.requests.length = 0;
  const alice = await login(auth, 'Alice-Smith');
  t.equal(alice?.name, 'Alice-Smith', 'the hub lower-cases it');
  t.match(alice?.authState, { access_token: /^gho_/, token_type: 'bearer', expires_at: null, github_user: { login: 'Alice-Smith', id: 1 } });
  t.same(alice?.groups, [], 'teams are not read unless they are used: no groups');
  t.same(gh.requests, ['GET /login/oauth/authorize', 'POST /login/oauth/access_token', 'GET /api/v3/user'], 'Enterprise layout: API under /api/v3');
  t.equal(await auth.refreshUser!({ name: 'alice-smith', authState: alice!.authState! }), true, 'GitHub OAuth app tokens do not expire');
  t.equal(auth.logoutRedirect!({ hubLoginUrl: 'http://h/hub/login', authState: null }), null);

  const wrongVerifier = await refusal(login(auth, 'bob', (p) => (p.code_verifier = 'y'.repeat(43))));
  t.equal(wrongVerifier.status, 400);
  t.match(wrongVerifier.message, /GitHub did not accept this sign-in \(bad_verification_code\)/, '200-with-error answers are understood');
});

t.test('allowed_organizations: org and org:team rules, with read:org requested', async (t) => {
  const auth = make({ allowed_organizations: ['physics-dept:ta', 'elsewhere'] });
  t.equal(auth.hasAllowRules, true);
  const { url } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' });
  t.equal(new URL(url).searchParams.get('scope'), 'read:user read:org');
  const alice = (await login(auth, 'Alice-Smith'))!;
  t.equal(await auth.checkAllowed!('alice-smith', alice), true, 'in team physics-dept:ta');
  const bob = (await login(auth, 'bob'))!;
  t.equal(await auth.checkAllowed!('bob', bob), false, 'in the org but not the team');
  const eve = (await login(auth, 'eve'))!;
  t.equal(await auth.checkAllowed!('eve', eve), true, 'member of the org elsewhere');

  const orgOnly = make({ allowed_organizations: ['physics-dept'] });
  t.equal(await orgOnly.checkAllowed!('bob', (await login(orgOnly, 'bob'))!), true);
  t.equal(await orgOnly.checkAllowed!('eve', (await login(orgOnly, 'eve'))!), false, 'outside the org (GitHub answers 302)');
  t.ok(gh.requests.includes('GET /api/v3/orgs/physics-dept/members/eve'));
});

t.test('teams become org:team groups (paginated) and optionally auth_state teams', async (t) => {
  const auth = make({ manage_groups: true, populate_teams_in_auth_state: true, admin_groups: ['physics-dept:ta'] });
  const alice = (await login(auth, 'Alice-Smith'))!;
  t.same(alice.groups, ['physics-dept:ta', 'physics-dept:phys-101', 'chem:lab'], 'three teams over two pages');
  t.equal(alice.admin, true, 'admin_groups works with team groups');
  t.match(alice.authState?.teams, [{ slug: 'ta', organization: { login: 'physics-dept' } }, {}, {}]);
  const bob = (await login(auth, 'bob'))!;
  t.same(bob.groups, ['physics-dept:phys-101']);
  t.equal(bob.admin, false);

  const noReadOrg = make({ manage_groups: true, scope: ['read:user'] });
  const limited = (await login(noReadOrg, 'bob'))!;
  t.equal(limited.name, 'bob', 'login works without read:org');
  t.equal(limited.groups, undefined, 'but teams are unknown (GitHub refused /user/teams)');
});

t.test('refusals: denied, wrong client secret, GitHub down; config errors name the key', async (t) => {
  gh.deny = true;
  const denied = await refusal(login(make(), 'bob'));
  gh.deny = false;
  t.equal(denied.status, 403);
  t.match(denied.message, /cancelled at GitHub/);

  const badSecret = await refusal(login(make({ client_secret: 'wrong' }), 'bob'));
  t.equal(badSecret.status, 502);
  t.match(badSecret.message, /check client_id and client_secret/);

  const auth = make();
  gh.signedIn = 'bob';
  const { url, pending } = await auth.loginRedirect!({ callbackUrl: CALLBACK, remoteAddress: '::1' });
  const back = new URL((await fetch(url, { redirect: 'manual' })).headers.get('location')!);
  await gh.stop();
  t.teardown(() => gh.start());
  const down = await refusal(auth.authenticate({ fields: Object.fromEntries(back.searchParams), pending, remoteAddress: '::1' }));
  t.equal(down.status, 503);
  t.match(down.message, /Could not reach GitHub/);
  await gh.start();

  const msg = async (c: GithubConfig) => (await refusal(make(c).validateConfig!())).message;
  t.match(await msg({ allow_insecure_http: false }), /^authenticator\.github_url: not an https URL/);
  t.match(await msg({ github_url: 'github.com' }), /^authenticator\.github_url: not a URL/);
  t.match(await msg({ client_id: '' }), /authenticator\.client_id: required/);
});

t.test('user:email scope: a private primary verified e-mail goes into auth_state.github_user', async (t) => {
  const emailOf = (m: AuthModel | null) => (m?.authState?.github_user as JsonObject | undefined)?.email;
  const auth = make({ scope: ['read:user', 'user:email'] });
  gh.requests.length = 0;
  const dana = await login(auth, 'dana');
  t.equal(emailOf(dana), 'dana@uni.example', 'the primary address, not the first one listed');
  t.ok(gh.requests.includes('GET /api/v3/user/emails'));
  t.match(dana?.authState?.github_user, { login: 'dana', id: 4 }, 'the rest of /user stays');
  t.equal(emailOf(await login(make({ scope: ['user'] }), 'dana')), 'dana@uni.example', "the broader 'user' scope works too");

  gh.requests.length = 0;
  t.equal(emailOf(await login(auth, 'pub')), 'pub@public.example', 'a public e-mail from /user is kept as it is');
  t.notOk(gh.requests.includes('GET /api/v3/user/emails'), 'and /user/emails is not asked');
  t.equal(emailOf(await login(auth, 'unverified')), null, 'an unverified primary address is not used');
  gh.requests.length = 0;
  t.equal(emailOf(await login(make(), 'dana')), null, 'without user:email in the scope: no e-mail');
  t.notOk(gh.requests.includes('GET /api/v3/user/emails'), 'and nothing more is asked of GitHub');
});

t.test('a failing /user/emails does not fail the login: a warning, no e-mail', async (t) => {
  const { log, warned } = warnings();
  const auth = make({ scope: ['read:user', 'user:email'] }, log);
  t.teardown(() => void (gh.failEmails = null));
  for (const failure of [500, 403, 'reset'] as const) {
    gh.failEmails = failure;
    warned.length = 0;
    const dana = await login(auth, 'dana');
    t.equal(dana?.name, 'dana', `GitHub answers ${failure}: the login works`);
    t.equal((dana?.authState?.github_user as JsonObject).email, null, 'without the e-mail');
    t.match(warned, [/GET \/user\/emails failed/], 'and the operator is told why');
  }
});
