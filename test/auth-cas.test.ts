import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { defaultRegistry, validateConfig } from '@tshub/hub';
import { BrowserClient, type Page } from './support/browser-client.js';
import { OPENSSL, startFakeCas } from './support/fake-cas.js';
import { need } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

/**
 * Acceptance (issue #5, CAS): a real hub and proxy log people in through an HTTPS fake CAS server
 * (throwaway CA passed as cas_ca_bundle). Students with affiliation=student get in and their
 * attributes land in auth_state; admin and groups come from attributes; the normal blocked/allowed
 * checks apply; a refused, spent or unverifiable ticket shows a clear page with a retry link and no
 * redirect loop; a ticket from someone else's login (login CSRF) is refused; logout ends the CAS
 * session too; misconfiguration stops the hub naming the key.
 */

if (need(t, existsSync(OPENSSL), 'the openssl CLI (apt-get install openssl)')) await suite();

async function suite(): Promise<void> {
  const TOKEN = randomBytes(16).toString('hex');
  process.env.JUPYTERHUB_CRYPT_KEY = randomBytes(32).toString('hex');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-cas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fake = await startFakeCas({
    dir,
    users: {
      ada: { password: 'ada-pw', attributes: { affiliation: ['member', 'student'], memberOf: ['course-101'], mail: ['ada@example.edu'] } },
      grace: { password: 'grace-pw', attributes: { affiliation: ['staff'], memberOf: ['jupyter-admins'] } },
      bob: { password: 'bob-pw', attributes: { affiliation: ['staff'], memberOf: ['library'] } },
      mallory: { password: 'mallory-pw', attributes: { affiliation: ['student'] } },
      eve: { password: 'eve-pw', attributes: { affiliation: ['student'] } },
    },
  });
  t.teardown(() => fake.close());

  const casConfig = {
    kind: 'cas',
    cas_login_url: `${fake.base}/login`,
    cas_logout_url: `${fake.base}/logout`,
    cas_ca_bundle: fake.caFile,
    required_attributes: { affiliation: ['student'] },
    admin_attributes: { memberOf: ['jupyter-admins'] },
    groups_attribute: 'memberOf',
    manage_groups: true,
    enable_auth_state: true,
    auto_login: true,
    // startTestHub defaults to allow_all: true; CAS rules are what decide here.
    allow_all: false,
    // Several cases fail on purpose from the same address.
    login_rate_limit: { max_failures: 100, window_seconds: 300 },
    admin_users: ['teacher'],
    blocked_users: ['mallory'],
  };
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: 'teacher' } }, authenticator: casConfig } });

  /** Follows the hub's redirects from `start` until one leaves for CAS; returns that CAS URL. */
  async function toCas(client: BrowserClient, start: string): Promise<string> {
    let url = start;
    for (let hop = 0; hop < 10; hop++) {
      const page = await client.request(url);
      const loc = page.headers.get('location');
      if (page.status < 300 || page.status >= 400 || !loc) throw new Error(`expected a redirect towards CAS, got ${page.status} ${page.url}`);
      url = new URL(loc, page.url).href;
      if (url.startsWith(fake.base)) return url;
    }
    throw new Error(`no redirect to CAS after 10 hops (last ${url})`);
  }

  /** A person opening `start`, signing in at CAS, and following the way back through the hub. */
  async function casLogin(client: BrowserClient, user: string, start = '/hub/home'): Promise<Page> {
    return client.get(await fake.signIn(await toCas(client, start), user));
  }

  async function apiUser(name: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${th.publicUrl}/hub/api/users/${name}`, { headers: { authorization: `token ${TOKEN}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** The text a person reads on a page: tags dropped, entities decoded, whitespace collapsed. */
  const textOf = (page: Page) =>
    page.text.replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ').replace(/<[^>]*>/g, ' ').replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
  const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  /** The state this browser's login sent to CAS (in the service URL), read from the CAS login URL. */
  const stateOf = (casUrl: string) => new URL(new URL(casUrl).searchParams.get('service')!).searchParams.get('state')!;
  const retryHref = (page: Page) => /<a\b[^>]*href="([^"]*)"[^>]*>\s*Try again\s*<\/a>/.exec(page.text)?.[1]?.replace(/&amp;/g, '&');

  t.test('a student logs in through CAS and lands on the hub; attributes are in auth_state', async (t) => {
    const client = new BrowserClient(th.publicUrl);
    const casUrl = await toCas(client, '/hub/home');
    const service = new URL(casUrl).searchParams.get('service');
    t.match(service, new RegExp(`^${escapeRe(th.publicUrl)}/hub/oauth_callback\\?state=[A-Za-z0-9_-]{22,}$`),
      'CAS is told to return to the hub callback, with a random state for this browser');
    const back = await fake.signIn(casUrl, 'ada');
    t.equal(new URL(back).searchParams.get('state'), new URL(service!).searchParams.get('state'), 'CAS returns the state unchanged');
    const home = await client.get(back);
    t.equal(home.status, 200);
    t.equal(new URL(home.url).pathname, '/hub/home', 'back where she started');
    t.match(textOf(home), /ada/);
    t.equal(fake.validations.at(-1)?.path, '/cas/p3/serviceValidate');
    t.equal(fake.validations.at(-1)?.service, service, 'the ticket is validated for exactly the service URL CAS was given');
    t.equal(fake.validations.at(-1)?.code, 'SUCCESS');

    const { status, body } = await apiUser('ada');
    t.equal(status, 200);
    t.equal(body.admin, false);
    t.same(body.groups, ['course-101'], 'groups from memberOf (manage_groups)');
    t.same(body.auth_state, { cas_user: 'ada', attributes: { affiliation: ['member', 'student'], memberOf: ['course-101'], mail: ['ada@example.edu'] } });
  });

  t.test('admin comes from an attribute, even without the required one', async (t) => {
    const page = await casLogin(new BrowserClient(th.publicUrl), 'grace');
    t.equal(page.status, 200);
    t.equal(new URL(page.url).pathname, '/hub/home');
    const { body } = await apiUser('grace');
    t.equal(body.admin, true, 'memberOf=jupyter-admins');
    t.same(body.groups, ['jupyter-admins']);
  });

  t.test('without the required attribute: a clear 403 page, no session', async (t) => {
    const client = new BrowserClient(th.publicUrl);
    const page = await casLogin(client, 'bob');
    t.equal(page.status, 403);
    t.match(textOf(page), /User bob is not allowed to use this hub/);
    t.ok(retryHref(page), 'a Try again link');
    t.equal((await client.request('/hub/home')).status, 302, 'not logged in');
    t.equal((await apiUser('bob')).status, 404, 'no user was created');
  });

  t.test('a blocked user is refused even with the required attribute', async (t) => {
    const page = await casLogin(new BrowserClient(th.publicUrl), 'mallory');
    t.equal(page.status, 403);
    t.match(textOf(page), /mallory is not allowed/);
    t.equal((await apiUser('mallory')).status, 404);
  });

  t.test('a spent or forged ticket: clear page, retry link goes to CAS, no redirect loop', async (t) => {
    // The browser's own ticket, spent before it gets back to the hub (any validation attempt spends a
    // CAS ticket): CAS refuses it, and the page says so.
    const second = new BrowserClient(th.publicUrl);
    const spentUrl = await fake.signIn(await toCas(second, '/hub/home'), 'ada');
    const spent = new URL(spentUrl);
    const spentService = new URL(spentUrl);
    spentService.searchParams.delete('ticket');
    const elsewhere = await fake.visit(`${fake.base}/p3/serviceValidate?${new URLSearchParams({ service: spentService.href, ticket: spent.searchParams.get('ticket')! })}`);
    t.equal(elsewhere.status, 200);
    t.equal(fake.validations.at(-1)?.code, 'SUCCESS', 'the ticket was good, and is now spent');
    const replay = await second.request(spentUrl);
    t.equal(replay.status, 403);
    t.equal(replay.headers.get('location'), null, 'an error page, not a redirect');
    t.match(textOf(replay), /CAS did not accept the login ticket \(INVALID_TICKET: Ticket ST-\S+ not recognized\)\. .*please log in again/);
    const retry = retryHref(replay);
    t.equal(retry, '/hub/oauth_login?next=%2Fhub%2Fhome', 'retry keeps next');
    const again = await second.request(retry!);
    t.equal(again.status, 302);
    t.ok(again.headers.get('location')?.startsWith(`${fake.base}/login?service=`), 'the retry link goes to CAS, not back into the hub');

    const forged = new BrowserClient(th.publicUrl);
    const forgedState = stateOf(await toCas(forged, '/hub/home'));
    const page = await forged.request(`/hub/oauth_callback?state=${forgedState}&ticket=ST-1-forged`);
    t.equal(page.status, 403);
    t.match(textOf(page), /INVALID_TICKET/);

    const noCookie = await new BrowserClient(th.publicUrl).request(`/hub/oauth_callback?ticket=${fake.issueTicket('ada', `${th.publicUrl}/hub/oauth_callback`)}`);
    t.equal(noCookie.status, 400, 'a ticket that this browser did not ask for (login CSRF) is refused');
    t.match(textOf(noCookie), /did not start in this browser/);
  });

  t.test("login CSRF: a ticket from the attacker's own login does not log the victim in", async (t) => {
    const callback = `${th.publicUrl}/hub/oauth_callback`;
    const attacker = new BrowserClient(th.publicUrl);
    const attackerCas = await toCas(attacker, '/hub/home');
    // Each victim's browser has started its own login at /hub/oauth_login (its own pending cookie).
    const victims = await Promise.all([0, 1, 2, 3].map(async () => {
      const victim = new BrowserClient(th.publicUrl);
      await toCas(victim, '/hub/home');
      return victim;
    }));
    for (const victim of victims) t.ok(await victim.cookieValue('tshub-login-pending', '/hub/'), 'the victim has a pending login');

    // The attacker (eve) signs in at CAS but does not follow the redirect back: that URL holds a valid,
    // unspent ticket for the hub's service URL, with the attacker's state.
    const attackerUrl = new URL(await fake.signIn(attackerCas, 'eve'));
    t.equal(attackerUrl.href.startsWith(`${callback}?state=${stateOf(attackerCas)}&ticket=ST-`), true, "the attacker's link: the hub callback, the attacker's state, a ticket");
    const attackerTicket = attackerUrl.searchParams.get('ticket')!;
    // As if the attacker had gone to CAS login?service=<callback> directly: a ticket for the URL without a state.
    const bareTicket = fake.issueTicket('eve', callback);
    const links: Array<[string, string]> = [
      ["the attacker's callback URL as it is", `${attackerUrl.pathname}${attackerUrl.search}`],
      ["the attacker's ticket without the state", `/hub/oauth_callback?ticket=${attackerTicket}`],
      ['a ticket for the callback URL without a state', `/hub/oauth_callback?ticket=${bareTicket}`],
      ['the same with an empty state', `/hub/oauth_callback?state=&ticket=${bareTicket}`],
    ];
    const validationsBefore = fake.validations.length;
    for (const [i, [what, link]] of links.entries()) {
      const victim = victims[i]!;
      const page = await victim.request(link);
      t.equal(page.status, 400, `${what}: refused`);
      t.equal(page.headers.get('location'), null, 'an error page, not a redirect');
      t.match(textOf(page), /This login did not start in this browser\. Please log in again\./);
      t.equal(retryHref(page), '/hub/oauth_login?next=%2Fhub%2Fhome', 'a Try again link');
      t.equal(await victim.cookieValue('jupyterhub-hub-login', '/hub/'), undefined, 'no session cookie');
      const home = await victim.request('/hub/home');
      t.equal(home.status, 302, 'not logged in');
      t.notOk(home.headers.get('location')?.startsWith('/user/'), 'not sent to anyone\'s server');
    }
    t.equal(fake.validations.length, validationsBefore, 'the hub refused before asking CAS: no ticket was validated for a victim');
    t.equal((await apiUser('eve')).status, 404, 'nobody was logged in as the attacker');

    // The ticket was good all along (it is refused for being someone else's, not for being bad): the
    // attacker's own browser, which holds the matching state, can still use it.
    const own = await attacker.get(attackerUrl.href);
    t.equal(own.status, 200);
    t.equal(new URL(own.url).pathname, '/hub/home');
    t.equal(fake.validations.at(-1)?.code, 'SUCCESS');
    t.equal((await apiUser('eve')).status, 200, 'the attacker is logged in, in their own browser only');

    // A victim can still log in as themselves afterwards.
    const victim = victims[0]!;
    const mine = await victim.get(await fake.signIn(await toCas(victim, '/hub/home'), 'ada'));
    t.equal(mine.status, 200);
    t.equal(new URL(mine.url).pathname, '/hub/home');
    t.match(textOf(mine), /ada/);
    t.notMatch(textOf(mine), /\beve\b/);
  });

  t.test('CAS answering garbage or an error: a 502 page with the reason', async (t) => {
    t.teardown(() => void (fake.fault = 'none'));
    for (const [fault, reason] of [['http-500', /answered HTTP 500/], ['html', /could not read/]] as const) {
      fake.fault = fault;
      const page = await casLogin(new BrowserClient(th.publicUrl), 'ada');
      t.equal(page.status, 502, fault);
      t.match(textOf(page), reason);
      t.ok(retryHref(page));
    }
  });

  t.test('logout ends the hub session and sends the browser to CAS logout', async (t) => {
    const client = new BrowserClient(th.publicUrl);
    await casLogin(client, 'ada');
    const out = await client.request('/hub/logout');
    t.equal(out.status, 302);
    t.equal(out.headers.get('location'), `${fake.base}/logout?service=${encodeURIComponent(`${th.publicUrl}/hub/login`)}`);
    t.equal((await client.request('/hub/home')).status, 302, 'the hub session is gone');
    const atCas = await fake.visit(out.headers.get('location')!);
    t.equal(atCas.location, `${th.publicUrl}/hub/login`, 'CAS ends its session and sends the browser back to the hub login page');
    t.same(fake.logouts, [`${th.publicUrl}/hub/login`]);
  });

  t.test('bad configuration stops the hub with the key path named', async (t) => {
    const check = (extra: Record<string, unknown>) => validateConfig({ authenticator: { ...casConfig, ...extra } }, defaultRegistry());
    const bad = check({ cas_version: '4.0', cas_login_url: 'cas.example.edu/login' });
    t.equal(bad.ok, false);
    const errors = bad.ok ? '' : bad.errors.join('\n');
    t.match(errors, /authenticator\.cas_version/);
    t.match(errors, /authenticator\.cas_login_url/);
    t.match(check({ required_attributes: { affiliation: 'student' } }), { ok: false, errors: [/authenticator\.required_attributes\.affiliation/] });

    // The plugin's own start-up checks run inside the hub, before it opens anything.
    const startWith = (extra: Record<string, unknown>) => startTestHub(t, { config: { authenticator: { ...casConfig, ...extra } } });
    await t.rejects(startWith({ cas_ca_bundle: path.join(dir, 'missing.pem') }), /authenticator\.cas_ca_bundle: cannot read .*missing\.pem \(ENOENT\)/);
    await t.rejects(startWith({ cas_login_url: 'https://sso.example.edu/authenticate' }), /authenticator\.cas_service_validate_url: required, because cas_login_url does not end in \/login/);
    await t.rejects(startWith({ cas_service_url: `${th.publicUrl}/hub/login` }), /authenticator\.cas_service_url: must be the hub's callback URL/);
    // Without required_attributes, admin_attributes or a user list, nobody could ever log in.
    await t.rejects(startWith({ admin_users: [], required_attributes: {}, admin_attributes: {} }), /nobody could log in/);
  });
}
