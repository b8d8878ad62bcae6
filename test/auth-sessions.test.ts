// Login and session security, black-box through the real proxy: a spawn refused because the login
// was revoked (refresh_pre_spawn) or could not be re-checked answers 403 / 503 with a clear message,
// never 500; a password change ends the user's other sessions and an admin's reset ends all of them;
// self sign-up is limited per client address (IPv6 per /64) with a 429 page that creates nothing.
import { get } from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { fakeRedirectAuthenticator, redirectLogin } from './support/fake-redirect-authenticator.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { startAuthHub, type AuthHub } from './support/auth-test-hub.js';

const from = (ip: string) => ({ 'x-forwarded-for': ip });

/**
 * Who the client's login cookie says it is, or the refusal's status and message. A GET as a browser
 * navigation sends it (`Sec-Fetch-Mode: navigate`: exempt from the xsrf and referer checks): Node's
 * fetch always says `Sec-Fetch-Mode: cors`, which the hub's xsrf rules refuse without a token.
 */
async function whoami(c: BrowserClient): Promise<string> {
  const url = c.abs('/hub/api/user');
  const cookie = await c.jar.getCookieString(url);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    get(url, { headers: { cookie, 'sec-fetch-mode': 'navigate' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
  const body = JSON.parse(text) as { name?: string; message?: string };
  return status === 200 ? body.name! : `${status} ${body.message}`;
}

const LOGGED_OUT = '403 Missing or invalid credentials.';

/** A JupyterHub-shaped JSON error with this status, and its message. */
function jsonError(t: Test, page: Page, status: number, what: string): string {
  t.equal(page.status, status, `${what}: ${status}`);
  t.match(page.headers.get('content-type') ?? '', /^application\/json/, `${what}: JSON`);
  const body = JSON.parse(page.text) as { status: number; message: string };
  t.equal(body.status, status, `${what}: status in the body`);
  return body.message;
}

t.test('a spawn refused over the login is a clear 403 or 503, never a 500', async (t) => {
  const { plugin, control } = fakeRedirectAuthenticator();
  control.people['c-alice'] = { name: 'alice' };
  control.people['c-root'] = { name: 'root' };
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    authenticators: [plugin], spawners: [spawner.plugin],
    hub: { redirect_to_server: false },
    authenticator: { kind: 'fake-redirect', allowed_users: ['alice'], admin_users: ['root'] },
  });
  const loggedIn = async (code: string) => {
    const c = new BrowserClient(h.publicUrl);
    t.equal((await redirectLogin(c, code)).status, 302, `${code} logged in`);
    return c;
  };

  await t.test('revoked login: API', async (t) => {
    const alice = await loggedIn('c-alice');
    control.refresh.alice = false;
    const refused = await alice.api('/users/alice/server', { method: 'POST' });
    t.match(jsonError(t, refused, 403, 'own spawn'), /^Your login is no longer valid\. Log in again/);
    t.equal(spawner.contexts.length, 0, 'the spawner was never asked');
    t.equal(await whoami(alice), LOGGED_OUT, 'the session ended: log in again');

    const root = await loggedIn('c-root');
    const byAdmin = await root.api('/users/alice/server', { method: 'POST' });
    t.match(jsonError(t, byAdmin, 403, "an admin starting alice's server"), /login of alice is no longer valid: they must log in again/);
    t.equal(await whoami(root), 'root', "the admin's own session is untouched");
  });

  await t.test('revoked login: spawn page and spawn-pending page', async (t) => {
    const alice = await loggedIn('c-alice');
    const page = await alice.request('/hub/spawn');
    t.equal(page.status, 403, 'the spawn page answers 403');
    t.match(page.text, /Your login is no longer valid/);
    t.match(page.text, /href="\/hub\/login\?next=%2Fhub%2Fspawn%2Falice"[^>]*>Log in again</, 'with a link that logs in and comes back to the spawn');
    t.equal(spawner.contexts.length, 0, 'the spawner was never asked');
    const again = await loggedIn('c-alice');
    const pending = await again.request('/hub/spawn-pending/alice');
    t.equal(pending.status, 403, 'the spawn-pending page of that failure: 403, not 500');
    t.match(pending.text, /Your login is no longer valid/);
  });

  await t.test('identity provider down: 503 with Retry-After, the login is kept', async (t) => {
    const alice = await loggedIn('c-alice');
    control.refresh.alice = new Error('connect ECONNREFUSED idp.invalid');
    const refused = await alice.api('/users/alice/server', { method: 'POST' });
    t.match(jsonError(t, refused, 503, 'spawn while the provider is down'), /could not be re-checked before starting the server.*Try again in a moment/);
    t.ok(Number(refused.headers.get('retry-after')) > 0, `Retry-After: ${refused.headers.get('retry-after')}`);
    t.equal(await whoami(alice), 'alice', 'still logged in');
    const page = await alice.request('/hub/spawn');
    t.equal(page.status, 503, 'the spawn page answers 503');
    t.match(page.text, /could not be re-checked/);
    t.ok(page.headers.get('retry-after'), 'with Retry-After');
    t.equal(spawner.contexts.length, 0, 'the spawner was never asked');

    delete control.refresh.alice;
    const ok = await alice.api('/users/alice/server', { method: 'POST' });
    t.ok([201, 202].includes(ok.status), `once the provider answers, the spawn goes ahead (${ok.status})`);
    t.equal(spawner.contexts.length, 1);
    t.ok((await alice.api('/users/alice/server', { method: 'DELETE' })).status < 300, 'stopped');
  });
});

const ADMIN_PW = 'teacher-board-2026';

t.test('local accounts: password changes end sessions; sign-ups are limited per address', async (t) => {
  const h = await startAuthHub(t, {
    spawners: [recordingSpawner().plugin],
    hub: { redirect_to_server: false },
    authenticator: {
      kind: 'local', admin_users: ['teacher'], enable_signup: true, open_signup: true,
      // Logins all come through one proxy address here: the failed-login limiter is not under test.
      login_rate_limit: { max_failures: 0 },
      signup_rate_limit: { max_signups: 3, window_seconds: 600 },
    },
  });
  const signUp = async (name: string, ip: string, password = `${name}-pass-word-1`, confirm = password) => {
    const c = new BrowserClient(h.publicUrl);
    const form = await c.get('/hub/signup', { headers: from(ip) });
    const xsrf = /name="_xsrf" value="([^"]*)"/.exec(form.text)?.[1] ?? '';
    return c.request('/hub/signup', {
      method: 'POST', headers: { ...from(ip), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: name, password, password_confirm: confirm, _xsrf: xsrf }),
    });
  };
  const login = async (name: string, password: string) => {
    const c = new BrowserClient(h.publicUrl);
    const page = await c.submit(await c.get('/hub/login'), '/hub/login', { username: name, password });
    return { c, page };
  };

  const setupToken = h.hub.adminSetup.open('teacher');
  const setup = new BrowserClient(h.publicUrl);
  await setup.submit(await setup.get(`/hub/setup-admin?token=${setupToken}`), '/hub/setup-admin', { token: setupToken, password: ADMIN_PW, password_confirm: ADMIN_PW });
  t.equal(await whoami(setup), 'teacher', 'the admin is set up');

  await t.test('changing the password ends every other session of the user, not this one', async (t) => {
    t.equal((await signUp('alice', '10.1.0.1')).status, 200, 'alice signed up');
    const [laptop, phone, tablet] = [await login('alice', 'alice-pass-word-1'), await login('alice', 'alice-pass-word-1'), await login('alice', 'alice-pass-word-1')];
    for (const s of [laptop, phone, tablet]) t.equal(await whoami(s.c), 'alice', 'logged in');
    const bob = await signUp('bob', '10.1.0.2');
    t.equal(bob.status, 200);
    const bobSession = await login('bob', 'bob-pass-word-1');
    const token = await laptop.c.api('/users/alice/tokens', { method: 'POST', body: '{"note":"script"}', headers: { 'content-type': 'application/json' } });
    t.equal(token.status, 201, 'an API token made before the change');

    const form = await laptop.c.get('/hub/change-password');
    const changed = await laptop.c.submit(form, '/hub/change-password', { old_password: 'alice-pass-word-1', new_password: 'alice-pass-word-2', new_password_confirm: 'alice-pass-word-2' });
    t.equal(changed.status, 200);
    t.match(changed.text, /Your password was changed/);
    t.equal(await whoami(laptop.c), 'alice', 'the session that changed it keeps working');
    t.equal((await laptop.c.get('/hub/home')).status, 200, 'pages too');
    t.equal(await whoami(phone.c), LOGGED_OUT, 'another session ended');
    t.equal(await whoami(tablet.c), LOGGED_OUT, 'and another');
    t.equal(new URL((await phone.c.get('/hub/home')).url).pathname, '/hub/login', 'its pages go to the login page');
    t.equal(await whoami(bobSession.c), 'bob', "other users' sessions are untouched");
    const secret = (JSON.parse(token.text) as { token: string }).token;
    const withToken = await fetch(`${h.publicUrl}/hub/api/user`, { headers: { authorization: `token ${secret}` } });
    t.equal(withToken.status, 200, 'API tokens are not sessions: they keep working (as in JupyterHub)');
    t.equal(await whoami((await login('alice', 'alice-pass-word-2')).c), 'alice', 'the new password logs in');
  });

  await t.test("an admin's reset ends all of the user's sessions", async (t) => {
    const [one, two] = [await login('alice', 'alice-pass-word-2'), await login('alice', 'alice-pass-word-2')];
    t.equal(await whoami(one.c), 'alice');
    const list = await setup.get('/hub/authorize');
    const reset = await setup.submit(list, '/hub/authorize/reset', { username: 'alice', password: 'alice-reset-word-3' });
    t.equal(reset.status, 200);
    t.match(reset.text, /Set a new password for alice\. Their \d+ sessions were ended\./, 'the admin is told');
    t.equal(await whoami(one.c), LOGGED_OUT, 'session ended');
    t.equal(await whoami(two.c), LOGGED_OUT, 'session ended');
    t.equal(await whoami(setup), 'teacher', "the admin's session is untouched");
    t.equal((await login('alice', 'alice-reset-word-3')).page.status, 200, 'the reset password logs in');

    const own = await setup.submit(await setup.get('/hub/authorize'), '/hub/authorize/reset', { username: 'teacher', password: 'teacher-board-2027' });
    t.equal(own.status, 200);
    t.equal(await whoami(setup), 'teacher', 'an admin resetting their own password keeps the session in use');
  });

  await t.test('sign-ups per address: over the limit, a 429 page with Retry-After and nothing created', async (t) => {
    for (const name of ['s1', 's2', 's3']) t.equal((await signUp(name, '10.2.0.1')).status, 200, `${name} signed up`);
    const over = await signUp('s4', '10.2.0.1');
    t.equal(over.status, 429, 'the fourth from one address within the window');
    const retry = Number(over.headers.get('retry-after'));
    t.ok(retry > 0 && retry <= 600, `Retry-After: ${retry}`);
    t.match(over.text, /Too many accounts were signed up from your network address\. Wait 10 minutes/);
    t.equal((await login('s4', 's4-pass-word-1')).page.status, 403, 'no account was created');
    t.equal((await signUp('s4', '10.2.0.2')).status, 200, 'another address may still sign up, the same name included');

    for (let i = 0; i < 4; i++) t.equal((await signUp('typo', '10.2.0.3', 'typo-pass-word-1', 'typo-pass-word-2')).status, 400, 'passwords that do not match');
    t.equal((await signUp('s5', '10.2.0.3', 'short')).status, 400, 'a password that breaks a rule');
    t.equal((await signUp('s5', '10.2.0.3')).status, 200, 'typing mistakes do not use up the budget');
    for (let i = 0; i < 2; i++) t.equal((await signUp('alice', '10.2.0.3')).status, 409, 'a taken name');
    t.equal((await signUp('s6', '10.2.0.3')).status, 429, 'attempts at taken names do count (no unlimited probing for names)');

    for (const [name, ip] of [['v1', '2001:db8:5:1::1'], ['v2', '2001:db8:5:1::2'], ['v3', '2001:db8:5:1:ffff::9']]) {
      t.equal((await signUp(name!, ip!)).status, 200, `${name} from ${ip}`);
    }
    t.equal((await signUp('v4', '2001:db8:5:1:0:0:0:77')).status, 429, 'IPv6 addresses count per /64');
    t.equal((await signUp('v4', '2001:db8:5:2::1')).status, 200, 'the next /64 is another client');
  });
});
