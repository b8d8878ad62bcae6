import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { startFakeGithub } from './support/fake-github.js';
import { defaultRegistry, validateConfig } from '@tshub/hub';
import { startTestHub } from './support/test-hub.js';
import { startAuthHub } from './support/auth-test-hub.js';
import { recordingSpawner } from './support/recording-spawner.js';

/**
 * Acceptance 2 of issue #5 (GitHub part): login through a GitHub Enterprise-style fake that answers as
 * GitHub documents (authorize redirect, token endpoint with 200-with-error refusals, /user, team and
 * organisation membership, paginated /user/teams). Organisation/team rules are enforced, teams become
 * `org:team` hub groups, and failures end on a clear page with a retry link. With the user:email scope
 * a private e-mail (GET /user/emails) reaches the spawner in auth_state.github_user.email.
 */

const TOKEN = randomBytes(16).toString('hex');

const gh = await startFakeGithub(
  t,
  [
    { login: 'Alice-Smith', id: 1, orgs: ['physics-dept'], teams: ['physics-dept:ta', 'physics-dept:phys-101', 'chem:lab'] },
    { login: 'bob', id: 2, orgs: ['physics-dept'], teams: ['physics-dept:phys-101'] },
    { login: 'carol', id: 3, orgs: ['biology'] },
    { login: 'dana', id: 4, emails: [{ email: 'dana@old.example', primary: false, verified: true, visibility: null }, { email: 'dana@uni.example', primary: true, verified: true, visibility: 'private' }] },
    { login: 'erin', id: 5, emails: [{ email: 'erin@uni.example', primary: true, verified: true, visibility: 'private' }] },
  ],
  { teamsPageSize: 2 },
);
const th = await startTestHub(t, {
  config: {
    hub: { api_tokens: { [TOKEN]: 'ops' }, redirect_to_server: false },
    authenticator: {
      kind: 'github',
      allow_all: false,
      admin_users: ['ops'],
      github_url: gh.url,
      client_id: gh.clientId,
      client_secret: gh.clientSecret,
      allow_insecure_http: true,
      allowed_organizations: ['physics-dept:ta', 'biology'],
      admin_groups: ['physics-dept:ta'],
      manage_groups: true,
      login_rate_limit: { max_failures: 50 },
    },
  },
});

async function api(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${th.publicUrl}/hub/api${path}`, { headers: { authorization: `token ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const textOf = (page: Page) =>
  page.text.replace(/<script[\s\S]*?<\/script>/g, ' ').replace(/<[^>]*>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
const linkTo = (page: Page, label: string) =>
  [...page.text.matchAll(/<a\b[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)].find((m) => m[2]!.replace(/<[^>]*>/g, '').trim() === label)?.[1]?.replace(/&amp;/g, '&');

/** Opens the login page and presses "Sign in with GitHub" as `login` (signed in at GitHub). */
async function signIn(login: string, publicUrl = th.publicUrl): Promise<{ browser: BrowserClient; page: Page }> {
  gh.signedIn = login;
  const browser = new BrowserClient(publicUrl);
  const loginPage = await browser.get('/hub/login');
  const button = linkTo(loginPage, 'Sign in with GitHub');
  if (!button) throw new Error(`no GitHub button: ${textOf(loginPage).slice(0, 300)}`);
  return { browser, page: await browser.get(button) };
}

function assertRetryPage(t: Test, browser: BrowserClient, page: Page, status: number, message: RegExp) {
  t.equal(page.status, status, `ends on a ${status} page (hops: ${browser.hops.join(' | ')})`);
  t.equal(new URL(page.url).pathname, '/hub/oauth_callback');
  t.match(textOf(page), message);
  t.match(linkTo(page, 'Try again'), /^\/hub\/oauth_login/, 'with a "Try again" link');
  t.ok(browser.hops.filter((h) => h.startsWith('3')).length <= 4, 'no redirect loop');
}

t.test('a TA signs in: allowed by team, admin by team, teams become groups', async (t) => {
  gh.requests.length = 0;
  const { browser, page } = await signIn('Alice-Smith');
  t.equal(page.status, 200, `logged in (hops: ${browser.hops.join(' | ')})`);
  t.equal(new URL(page.url).pathname, '/hub/home');
  const alice = await api('/users/alice-smith');
  t.equal(alice.status, 200, 'the GitHub login, lower-cased, is the hub user');
  t.equal(alice.body.admin, true, 'admin_groups: physics-dept:ta');
  t.same([...alice.body.groups].sort(), ['chem:lab', 'physics-dept:phys-101', 'physics-dept:ta'], 'all teams (two pages) as org:team groups');
  t.ok(gh.requests.includes('GET /api/v3/user'), 'the Enterprise API under /api/v3 was used');
  t.ok(gh.requests.filter((r) => r === 'GET /api/v3/user/teams').length === 2, 'teams read page by page');
  t.same(gh.grantedScopes.at(-1), ['read:user', 'read:org'], 'read:org requested because organisations are used');
});

t.test('organisation rule lets carol in; bob (in the org, not in the team) gets a clear 403', async (t) => {
  const carol = await signIn('carol');
  t.equal(new URL(carol.page.url).pathname, '/hub/home', 'member of biology');
  const body = (await api('/users/carol')).body;
  t.equal(body.admin, false);
  t.same(body.groups, [], 'in no team: in no group');

  const { browser, page } = await signIn('bob');
  assertRetryPage(t, browser, page, 403, /bob is not allowed/);
  t.ok(gh.requests.includes('GET /api/v3/orgs/physics-dept/teams/ta/memberships/bob'), 'the team membership was asked');
  t.equal((await api('/users/bob')).status, 404, 'no user created');
  t.equal((await browser.request('/hub/home')).status, 302, 'and no session');
});

t.test('denied authorization and GitHub down: clear pages with a retry link', async (t) => {
  gh.deny = true;
  const denied = await signIn('carol');
  gh.deny = false;
  assertRetryPage(t, denied.browser, denied.page, 403, /cancelled/i);
  const retry = await denied.browser.get(linkTo(denied.page, 'Try again')!);
  t.equal(new URL(retry.url).pathname, '/hub/home', 'Try again signs in once GitHub says yes');

  gh.signedIn = 'carol';
  const browser = new BrowserClient(th.publicUrl);
  const toGithub = await browser.request('/hub/oauth_login');
  const back = await browser.request(toGithub.headers.get('location')!);
  await gh.stop();
  t.teardown(() => gh.start());
  const page = await browser.get(back.headers.get('location')!);
  assertRetryPage(t, browser, page, 502, /Could not reach GitHub/);
  await gh.start();
});

t.test('user:email scope: the private e-mail reaches the spawner in auth_state; a failing /user/emails does not block login', async (t) => {
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    spawners: [spawner.plugin],
    env: { JUPYTERHUB_CRYPT_KEY: randomBytes(32).toString('hex') },
    hub: { redirect_to_server: false },
    authenticator: {
      kind: 'github', allow_all: true, enable_auth_state: true, scope: ['read:user', 'user:email'],
      github_url: gh.url, client_id: gh.clientId, client_secret: gh.clientSecret, allow_insecure_http: true,
    },
  });
  /** Signs in, starts the server, and returns the github_user the spawner was handed. */
  const spawnedGithubUser = async (login: string) => {
    const { browser, page } = await signIn(login, h.publicUrl);
    t.equal(new URL(page.url).pathname, '/hub/home', `${login} signed in (hops: ${browser.hops.join(' | ')})`);
    const spawn = await browser.api(`/users/${login}/server`, { method: 'POST' });
    t.ok([201, 202].includes(spawn.status), `${login}'s server started (${spawn.status})`);
    const ctx = spawner.contexts.at(-1);
    t.equal(ctx?.user.name, login);
    return ctx?.user.authState?.github_user as Record<string, unknown> | undefined;
  };

  gh.requests.length = 0;
  t.match(await spawnedGithubUser('dana'), { login: 'dana', id: 4, email: 'dana@uni.example' }, 'the primary verified address, though /user showed none');
  t.ok(gh.requests.includes('GET /api/v3/user/emails'), 'read from /user/emails');
  t.same(gh.grantedScopes.at(-1), ['read:user', 'user:email']);

  gh.failEmails = 500;
  t.teardown(() => void (gh.failEmails = null));
  const erin = await spawnedGithubUser('erin');
  gh.failEmails = null;
  t.match(erin, { login: 'erin', email: null }, 'GitHub failed /user/emails: erin still signs in and spawns, without an e-mail');
});

t.test('bad github options are reported with their key path', async (t) => {
  const errors = (authenticator: Record<string, unknown>) => {
    const r = validateConfig({ authenticator: { kind: 'github', allow_all: true, ...authenticator } }, defaultRegistry());
    return r.ok ? [] : r.errors;
  };
  t.same(errors({ github_url: 'https://git.example.edu', allowed_organizations: ['physics-dept:ta'], populate_teams_in_auth_state: true }), [], 'a good config');
  t.match(errors({ allowed_organisations: ['x'] }), [/^authenticator\.allowed_organisations: unknown option; did you mean 'allowed_organizations'\?/]);
  t.match(errors({ allowed_organizations: ['a:b:c'] }), [/^authenticator\.allowed_organizations\.0: must match pattern/]);
  t.match(errors({ populate_teams_in_auth_state: 'yes' }), [/^authenticator\.populate_teams_in_auth_state: must be boolean/]);
  t.match(errors({ oidc_issuer: 'https://x' }), [/^authenticator\.oidc_issuer: unknown option/], 'generic-only keys do not apply to github');
});
