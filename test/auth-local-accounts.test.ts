import t from 'tap';
import type { Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

// Local accounts end to end (issue #5, acceptance 4): a real hub behind the real proxy, driven like a
// browser through the sign-up, login, change-password and /hub/authorize pages.

const TOKEN = 'c'.repeat(32);
const ADMIN_PW = 'teacher-board-2026';

const config = {
  hub: { api_tokens: { [TOKEN]: 'teacher' }, redirect_to_server: false },
  authenticator: {
    kind: 'local', allow_all: false, admin_users: ['teacher'], enable_signup: true, allow_first_use: true,
    allowed_failed_logins: 3, seconds_before_next_try: 0,
    // Every login here comes from 127.0.0.1: the hub's per-address limiter would answer 429 long before
    // the accounts' own lockout is reached. The lockout is what this suite tests.
    login_rate_limit: { max_failures: 0 },
  },
};

/** Logs in through the form; resolves with the final page (the home page, or the refused login form). */
async function login(th: TestHub, username: string, password: string): Promise<{ client: BrowserClient; page: Page }> {
  const client = new BrowserClient(th.publicUrl);
  const page = await client.submit(await client.get('/hub/login'), '/hub/login?next=%2Fhub%2Fhome', { username, password });
  return { client, page };
}

function loggedIn(t: Test, result: { page: Page }, name: string, what: string): void {
  t.equal(result.page.status, 200, `${what}: logged in`);
  t.equal(new URL(result.page.url).pathname, '/hub/home', `${what}: lands on the home page`);
  t.match(result.page.text, new RegExp(`Signed in as </span>${name}<`), `${what}: as ${name}`);
}

const api = (th: TestHub, path: string, init: RequestInit = {}) =>
  fetch(`${th.publicUrl}/hub/api${path}`, { ...init, headers: { authorization: `token ${TOKEN}`, ...init.headers } });

t.test('local accounts', async (t) => {
  const th = await startTestHub(t, { config });
  const passwords: string[] = [ADMIN_PW];

  // The configured admin has no password yet: the hub's one-time set-up link sets it.
  const setup = new BrowserClient(th.publicUrl);
  const token = th.hub.adminSetup.open('teacher');
  const setupForm = await setup.get(`/hub/setup-admin?token=${token}`);
  loggedIn(t, { page: await setup.submit(setupForm, '/hub/setup-admin', { token, password: ADMIN_PW, password_confirm: ADMIN_PW }) }, 'teacher', 'admin set-up');
  const { client: admin } = await login(th, 'teacher', ADMIN_PW);

  await t.test('sign-up -> pending (login refused with the waiting message) -> admin approves -> login', async (t) => {
    const visitor = new BrowserClient(th.publicUrl);
    const form = await visitor.get('/hub/signup');
    t.equal(form.status, 200);
    t.match(form.text, /An administrator approves new accounts/, 'the form says an administrator approves accounts');
    const done = await visitor.submit(form, '/hub/signup', { username: ' Alice ', password: 'alice-secret-1', password_confirm: 'alice-secret-1' });
    t.equal(done.status, 200);
    t.match(done.text, /Your account <strong>alice<\/strong> was created and is waiting for approval/);
    passwords.push('alice-secret-1');

    const early = await login(th, 'alice', 'alice-secret-1');
    t.equal(early.page.status, 403, 'a pending account cannot log in');
    t.match(early.page.text, /waiting for approval by an administrator/);
    t.equal((await login(th, 'alice', 'wrong-password-1')).page.text.includes('waiting for approval'), false, 'a wrong password does not reveal the pending state');

    const list = await admin.get('/hub/authorize');
    t.equal(list.status, 200);
    t.match(list.text, /<th scope="row">alice<\/th>/, 'alice is listed as waiting');
    const approved = await admin.submit(list, '/hub/authorize/approve', { username: 'alice' });
    t.equal(approved.status, 200);
    t.match(approved.text, /Approved alice/);
    t.match(approved.text, /Nobody is waiting for approval/);
    loggedIn(t, await login(th, 'alice', 'alice-secret-1'), 'alice', 'after approval');

    const user = await api(th, '/users/alice');
    t.equal(user.status, 200, 'the approved user exists in the hub');

    // Rejecting forgets the sign-up.
    await visitor.submit(await visitor.get('/hub/signup'), '/hub/signup', { username: 'bob', password: 'bob-secret-22', password_confirm: 'bob-secret-22' });
    const rejected = await admin.submit(await admin.get('/hub/authorize'), '/hub/authorize/reject', { username: 'bob' });
    t.match(rejected.text, /Rejected the sign-up of bob/);
    t.match((await login(th, 'bob', 'bob-secret-22')).page.text, /Invalid username or password/);
  });

  await t.test('only admins see and use /hub/authorize', async (t) => {
    const { client: alice } = await login(th, 'alice', 'alice-secret-1');
    const page = await alice.get('/hub/authorize');
    t.equal(page.status, 403);
    t.match(page.text, /Only administrators/);
    const home = await alice.get('/hub/home');
    t.equal((await alice.submit(home, '/hub/authorize/unlock', { username: 'teacher' })).status, 403);
    t.equal((await alice.submit(home, '/hub/authorize/reset', { username: 'teacher', password: 'taken-over-99' })).status, 403);
    loggedIn(t, await login(th, 'teacher', ADMIN_PW), 'teacher', 'the admin password is unchanged');
    const anonymous = await new BrowserClient(th.publicUrl).get('/hub/authorize');
    t.equal(new URL(anonymous.url).pathname, '/hub/login', 'a visitor is sent to the login page');
  });

  await t.test('sign-up refuses weak, common, mismatched passwords and taken names with clear messages', async (t) => {
    const visitor = new BrowserClient(th.publicUrl);
    const form = await visitor.get('/hub/signup');
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ username: 'carl', password: 'carl-secret-1', password_confirm: 'carl-secret-2' }, 400, /do not match/],
      [{ username: 'carl', password: 'short', password_confirm: 'short' }, 400, /at least 8 characters/],
      [{ username: 'carl', password: 'password123', password_confirm: 'password123' }, 400, /most commonly used/],
      [{ username: 'carlcarl', password: 'CarlCarl', password_confirm: 'CarlCarl' }, 400, /same as the username/],
      [{ username: 'alice', password: 'alice-secret-9', password_confirm: 'alice-secret-9' }, 409, /already taken/],
      [{ username: 'teacher', password: 'teacher-secret', password_confirm: 'teacher-secret' }, 409, /already taken/],
      [{ username: 'a/b', password: 'slash-secret-1', password_confirm: 'slash-secret-1' }, 400, /not valid/],
      [{ username: '', password: 'empty-secret-1', password_confirm: 'empty-secret-1' }, 400, /Enter a username/],
    ];
    for (const [fields, status, message] of cases) {
      const page = await visitor.submit(form, '/hub/signup', fields);
      t.equal(page.status, status, `${JSON.stringify(fields)} -> ${status}`);
      t.match(page.text, message);
    }
    loggedIn(t, await login(th, 'alice', 'alice-secret-1'), 'alice', 'a refused sign-up as alice changed nothing');
  });

  // The hub tells the plugin about users it creates (accounts.userCreated), so they can claim a password.
  await t.test('first use: a user the admin created through the REST API sets the password at the first login', async (t) => {
    const created = await api(th, '/users/frank', { method: 'POST' });
    t.equal(created.status, 201);
    loggedIn(t, await login(th, 'frank', 'frank-first-pw'), 'frank', 'first login');
    passwords.push('frank-first-pw');
    const second = await login(th, 'frank', 'frank-other-pw');
    t.equal(second.page.status, 403, 'a second login with another password fails');
    t.match(second.page.text, /Invalid username or password/);
    loggedIn(t, await login(th, 'frank', 'frank-first-pw'), 'frank', 'the first password keeps working');
    const stranger = await login(th, 'mallory', 'mallory-claims');
    t.equal(stranger.page.status, 403, 'a name no admin created cannot be claimed');
  });

  await t.test('a user renamed through the REST API keeps the password under the new name only', async (t) => {
    const renamed = await api(th, '/users/frank', { method: 'PATCH', body: JSON.stringify({ name: 'francis' }), headers: { 'content-type': 'application/json' } });
    t.equal(renamed.status, 200);
    loggedIn(t, await login(th, 'francis', 'frank-first-pw'), 'francis', 'the new name with the old password');
    t.equal((await login(th, 'frank', 'frank-first-pw')).page.status, 403, 'the old name no longer logs in');
  });

  await t.test('lockout after 3 failures: even the right password is refused until the admin unlocks', async (t) => {
    t.equal((await api(th, '/users/gina', { method: 'POST' })).status, 201, 'the admin creates gina through the REST API');
    const reset = await admin.submit(await admin.get('/hub/authorize'), '/hub/authorize/reset', { username: 'gina', password: 'gina-secret-1' });
    t.match(reset.text, /Set a new password for gina/, 'and sets her password on /hub/authorize');
    passwords.push('gina-secret-1');
    for (let i = 0; i < 3; i++) t.equal((await login(th, 'gina', `wrong-${i}-password`)).page.status, 403, `wrong password ${i + 1} refused`);
    const locked = await login(th, 'gina', 'gina-secret-1');
    t.equal(locked.page.status, 403, 'then even the right password is refused');
    t.match(locked.page.text, /locked after 3 failed logins\. Ask an administrator to unlock it/, 'with the reason and what to do');
    const list = await admin.get('/hub/authorize');
    t.match(list.text, /<th scope="row">gina<\/th>\s*<td>an administrator unlocks it/, 'the admin sees gina as locked');
    const unlocked = await admin.submit(list, '/hub/authorize/unlock', { username: 'gina' });
    t.match(unlocked.text, /Unlocked gina/);
    t.match(unlocked.text, /No account is locked/);
    loggedIn(t, await login(th, 'gina', 'gina-secret-1'), 'gina', 'after the unlock');
  });

  await t.test('password change by the user', async (t) => {
    const { client } = await login(th, 'alice', 'alice-secret-1');
    const form = await client.get('/hub/change-password');
    t.equal(form.status, 200);
    const wrongOld = await client.submit(form, '/hub/change-password', { old_password: 'nope-nope-1', new_password: 'alice-secret-2', new_password_confirm: 'alice-secret-2' });
    t.equal(wrongOld.status, 403);
    t.match(wrongOld.text, /current password is not correct/);
    const mismatch = await client.submit(form, '/hub/change-password', { old_password: 'alice-secret-1', new_password: 'alice-secret-2', new_password_confirm: 'alice-secret-3' });
    t.equal(mismatch.status, 400);
    t.match(mismatch.text, /do not match/);
    const common = await client.submit(form, '/hub/change-password', { old_password: 'alice-secret-1', new_password: 'qwerty123', new_password_confirm: 'qwerty123' });
    t.equal(common.status, 400);
    t.match(common.text, /most commonly used/);
    const done = await client.submit(form, '/hub/change-password', { old_password: 'alice-secret-1', new_password: 'alice-secret-2', new_password_confirm: 'alice-secret-2' });
    t.equal(done.status, 200);
    t.match(done.text, /Your password was changed/);
    passwords.push('alice-secret-2');
    t.equal((await login(th, 'alice', 'alice-secret-1')).page.status, 403, 'the old password no longer works');
    loggedIn(t, await login(th, 'alice', 'alice-secret-2'), 'alice', 'the new password works');
    const visitor = await new BrowserClient(th.publicUrl).get('/hub/change-password');
    t.equal(new URL(visitor.url).pathname, '/hub/login', 'logged-out visitors are sent to the login page');
  });

  await t.test('admin reset: a new password, or cleared so that the next login sets it', async (t) => {
    const list = await admin.get('/hub/authorize');
    const set = await admin.submit(list, '/hub/authorize/reset', { username: 'alice', password: 'alice-reset-3' });
    t.equal(set.status, 200);
    passwords.push('alice-reset-3');
    t.equal((await login(th, 'alice', 'alice-secret-2')).page.status, 403);
    loggedIn(t, await login(th, 'alice', 'alice-reset-3'), 'alice', 'with the password the admin set');
    const cleared = await admin.submit(list, '/hub/authorize/reset', { username: 'alice', password: '' });
    t.match(cleared.text, /their next login sets it/);
    loggedIn(t, await login(th, 'alice', 'alice-own-again'), 'alice', 'the next login set a new password');
    passwords.push('alice-own-again');
    const nobody = await admin.submit(list, '/hub/authorize/reset', { username: 'nobody', password: 'nobody-secret' });
    t.equal(nobody.status, 404);
    t.match(nobody.text, /no user named nobody/);
    const weak = await admin.submit(list, '/hub/authorize/reset', { username: 'alice', password: 'abc' });
    t.equal(weak.status, 400);
    t.match(weak.text, /at least 8 characters/);
  });

  await t.test('odd form input gets a clear 4xx page, never a 500', async (t) => {
    const { client: user } = await login(th, 'alice', 'alice-own-again');
    const targets: Array<[BrowserClient, string]> = [
      [new BrowserClient(th.publicUrl), '/hub/signup'],
      [user, '/hub/change-password'],
      ...['approve', 'reject', 'unlock', 'reset'].map((a): [BrowserClient, string] => [admin, `/hub/authorize/${a}`]),
    ];
    // Six fields of 8000 characters stay under the hub's 64 KiB form limit, so the pages themselves see them.
    const long = 'x'.repeat(8000);
    for (const [client, path] of targets) {
      const xsrf = path === '/hub/signup' ? /name="_xsrf" value="([^"]*)"/.exec((await client.get(path)).text)![1]! : await client.hubXsrf();
      const form = (body: string) => ({ method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const bodies: Array<[string, RequestInit]> = [
        ['empty form', form(`_xsrf=${xsrf}`)],
        ['no xsrf', form('username=alice&password=x')],
        ['repeated fields', form(`_xsrf=${xsrf}&username=a&username=b&password=p&password=q&old_password=o&old_password=p`)],
        ['repeated xsrf', form(`_xsrf=${xsrf}&_xsrf=${xsrf}&username=a`)],
        ['very long values', form(`_xsrf=${xsrf}&username=${long}&password=${long}&password_confirm=${long}&old_password=${long}&new_password=${long}&new_password_confirm=${long}`)],
        ['JSON array', { method: 'POST', body: '[1,2]', headers: { 'content-type': 'application/json' } }],
        ['JSON object', { method: 'POST', body: JSON.stringify({ _xsrf: xsrf, username: ['a'], password: { a: 1 } }), headers: { 'content-type': 'application/json' } }],
        ['broken JSON', { method: 'POST', body: '{"username":', headers: { 'content-type': 'application/json' } }],
        ['NUL in name', form(`_xsrf=${xsrf}&username=a%00b&password=nul-secret-1&password_confirm=nul-secret-1`)],
      ];
      for (const [what, init] of bodies) {
        const page = await client.request(path, init);
        t.ok(page.status >= 400 && page.status < 500, `${path} ${what}: ${page.status}`);
        t.match(page.headers.get('content-type'), /text\/html/, `${path} ${what}: a page`);
      }
    }
    loggedIn(t, await login(th, 'teacher', ADMIN_PW), 'teacher', 'none of it changed the admin');
  });

  await t.test('passwords are stored only as argon2 hashes', async (t) => {
    const rows = await th.hub.database.db.selectFrom('plugin_data').select(['key', 'value']).where('plugin', '=', 'local').execute();
    const byKey = new Map(rows.map((r) => [r.key, (typeof r.value === 'string' ? JSON.parse(r.value) : r.value) as Record<string, unknown>]));
    for (const name of ['teacher', 'alice', 'gina']) {
      t.match(byKey.get(`account:${name}`)?.password_hash, /^\$argon2id\$/, `${name}: an argon2id hash`);
    }
    for (const [key, record] of byKey) {
      if ('password_hash' in record) t.match(record.password_hash, /^\$argon2id\$/, `${key}: argon2id`);
    }
    const dump = JSON.stringify(rows);
    for (const password of passwords) t.notOk(dump.includes(password), `no plaintext of a password (${password.length} chars) in the store`);
  });

  await t.test('deleting a user through the REST API forgets the password', async (t) => {
    t.equal((await api(th, '/users/gina', { method: 'DELETE' })).status, 204);
    const rows = await th.hub.database.db.selectFrom('plugin_data').select('key').where('plugin', '=', 'local').where('key', '=', 'account:gina').execute();
    t.same(rows, [], 'no account record left');
    t.match((await login(th, 'gina', 'gina-secret-1')).page.text, /Invalid username or password/);
    const visitor = new BrowserClient(th.publicUrl);
    const again = await visitor.submit(await visitor.get('/hub/signup'), '/hub/signup', { username: 'gina', password: 'gina-secret-2', password_confirm: 'gina-secret-2' });
    t.match(again.text, /was created and is waiting for approval/, 'the name is free to sign up again');
  });
});

t.test('without enable_signup there is no sign-up page', async (t) => {
  const th = await startTestHub(t, { config: { authenticator: { kind: 'local', allow_all: false, admin_users: ['teacher'] } } });
  const visitor = new BrowserClient(th.publicUrl);
  const page = await visitor.get('/hub/signup');
  t.equal(page.status, 404);
  t.match(page.text, /Sign-up is not enabled on this hub/);
  const posted = await visitor.request('/hub/signup', { method: 'POST', body: new URLSearchParams({ username: 'x', password: 'x-secret-123', password_confirm: 'x-secret-123' }) });
  t.equal(posted.status, 404);
});
