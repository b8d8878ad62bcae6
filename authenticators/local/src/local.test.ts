import t from 'tap';
import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, PluginLogger } from '@tshub/plugin-api';
import { accountKey } from './account-book.js';
import { localAuthenticator, WAITING_FOR_APPROVAL } from './local.js';
import type { LocalAuthConfig } from './local-config.js';
import { MemoryStore } from './memory-store.js';

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

function make(config: LocalAuthConfig = {}, log: PluginLogger = silent) {
  const store = new MemoryStore();
  const ctx: AuthContext<LocalAuthConfig> = { config, store, log, urls: { hubPrefix: '/hub/', publicOrigin: '' } };
  return { store, auth: localAuthenticator.create(ctx) };
}

const login = (auth: Authenticator, username: string, password: string) =>
  auth.authenticate({ fields: { username, password }, remoteAddress: '127.0.0.1' });

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

/** Milliseconds a promise-returning call takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

t.test('schema declares every option with a description and a default', async (t) => {
  t.equal(localAuthenticator.kind, 'local');
  const schema = localAuthenticator.configSchema as { type: string; properties: Record<string, { description?: string; default?: unknown }> };
  t.same(Object.keys(schema.properties).sort(), [
    'allow_first_use', 'allowed_failed_logins', 'check_common_password', 'enable_signup', 'first_use_passwords',
    'minimum_password_length', 'open_signup', 'seconds_before_next_try', 'signup_rate_limit',
  ]);
  for (const [key, prop] of Object.entries(schema.properties)) {
    t.type(prop.description, 'string', `${key} has a description`);
    t.not(prop.default, undefined, `${key} has a default`);
  }
  t.equal(schema.properties['minimum_password_length']!.default, 8);
  t.equal(schema.properties['enable_signup']!.default, false);
  t.equal(schema.properties['allowed_failed_logins']!.default, 5);
  t.same(schema.properties['signup_rate_limit']!.default, { max_signups: 5, window_seconds: 600 }, 'five sign-ups per address per ten minutes');
});

t.test('setPassword then login; wrong password, unknown user and empty fields give null', async (t) => {
  const { auth, store } = make();
  t.equal(auth.loginKind, 'form');
  await auth.setPassword!('alice', 'correct horse');
  const record = (await store.get(accountKey('alice'))) as Record<string, string>;
  t.match(record.password_hash, /^\$argon2id\$/, 'argon2id PHC string');
  t.notMatch(JSON.stringify(record), /correct horse/, 'plain password not stored');

  t.same(await login(auth, 'alice', 'correct horse'), { name: 'alice' });
  t.equal(await login(auth, 'alice', 'wrong horse!'), null);
  t.equal(await login(auth, 'bob', 'correct horse'), null);
  t.equal(await login(auth, 'alice', ''), null, 'empty password refused');
  t.equal(await login(auth, '', 'correct horse'), null, 'empty username refused');
  t.equal(await auth.authenticate({ fields: {}, remoteAddress: '::1' }), null, 'missing fields refused');
  t.equal(await login(auth, 'alice', 'x'.repeat(5000)), null, 'overlong password refused');
  t.same(await store.keys(), [accountKey('alice')], 'failed logins create nothing');

  await auth.setPassword!('alice', 'battery staple');
  t.equal(await login(auth, 'alice', 'correct horse'), null, 'old password no longer works');
  t.same(await login(auth, 'alice', 'battery staple'), { name: 'alice' });
  const after = (await store.get(accountKey('alice'))) as Record<string, string>;
  t.equal(after.created, record.created, 'creation time kept on password change');
});

t.test('setPassword enforces the password rules with a 400', async (t) => {
  const { auth, store } = make({ minimum_password_length: 10 });
  const err = await failure(auth.setPassword!('alice', 'short'));
  t.ok(err instanceof HubError, 'a HubError');
  t.match(err, { status: 400, message: /at least 10 characters/ });
  t.match(await failure(auth.setPassword!('alice', '')), { status: 400, message: /empty/ });
  t.match(await failure(auth.setPassword!('', 'long enough pw')), { status: 400 });
  t.match(await failure(auth.setPassword!('alicealice', 'AliceAlice')), { status: 400, message: /same as the username/ });
  t.match(await failure(auth.setPassword!('alice', 'password123')), { status: 400, message: /most commonly used/ });
  t.same(await store.keys(), []);
  await auth.setPassword!('alice', '0123456789x');
  t.same(await login(auth, 'alice', '0123456789x'), { name: 'alice' });
});

t.test('a damaged account record is a failed login, not a crash', async (t) => {
  const { auth, store } = make();
  await store.set(accountKey('alice'), { password_hash: 'not-a-phc-string', created: 'x' });
  await store.set(accountKey('bob'), 'garbage');
  await store.set(accountKey('carol'), { password_hash: 42, status: ['x'], locked: 'yes', failed_logins: 'many' });
  t.equal(await login(auth, 'alice', 'anything at all'), null);
  t.equal(await login(auth, 'bob', 'anything at all'), null);
  t.equal(await login(auth, 'carol', 'anything at all'), null);
  t.equal(await auth.checkAllowed!('carol', { name: 'carol' }), false);
});

t.test('pendingAdminSetup names the first admin without a password', async (t) => {
  const { auth, store } = make();
  t.equal(await auth.pendingAdminSetup!([]), null);
  t.equal(await auth.pendingAdminSetup!(['root', 'admin2']), 'root');
  await auth.setPassword!('root', 'root password');
  t.equal(await auth.pendingAdminSetup!(['root', 'admin2']), 'admin2');
  await store.set(accountKey('admin2'), { created: 'x' });
  t.equal(await auth.pendingAdminSetup!(['root', 'admin2']), 'admin2', 'record without a hash still pending');
  await auth.setPassword!('admin2', 'admin2 password');
  t.equal(await auth.pendingAdminSetup!(['root', 'admin2']), null);
});

t.test('unknown user costs about as much as a known user with a wrong password', async (t) => {
  // No lockout here: seven wrong passwords would lock alice and make the known case cheaper.
  const { auth } = make({ allowed_failed_logins: 0 });
  await auth.setPassword!('alice', 'correct horse');
  await login(auth, 'nobody', 'warm up the dummy hash');
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 7; i++) {
    known.push(await timed(() => login(auth, 'alice', 'wrong password')));
    unknown.push(await timed(() => login(auth, 'nobody', 'wrong password')));
  }
  const ratio = median(unknown) / median(known);
  t.comment(`known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
  // Without the dummy hash an unknown user is answered in well under a millisecond (ratio near 0); the
  // bound leaves room for a busy machine, where argon2 timings swing by a factor of two.
  t.ok(ratio >= 0.25, `unknown-user login costs a comparable hash (ratio ${ratio.toFixed(2)})`);
});

t.test('first use: an account the hub created sets its password at the first login', async (t) => {
  const { auth, store } = make({ allow_first_use: true, minimum_password_length: 5 });
  t.match(auth.loginHint, /becomes your password/);
  t.equal(auth.hasAllowRules, true);
  t.equal(await login(auth, 'carol', 'first password'), null, 'a name the hub never created claims nothing');
  t.same(await store.keys(), []);
  await auth.accounts!.userCreated('carol');
  t.equal(await auth.checkAllowed!('carol', { name: 'carol' }), false, 'not allowed before a password is set');
  t.match(await failure(login(auth, 'carol', 'carol')), { status: 400, message: /same as the username.*first login/ });
  t.same(await login(auth, 'carol', 'first password'), { name: 'carol' });
  t.match(((await store.get(accountKey('carol'))) as Record<string, string>).password_hash, /^\$argon2id\$/);
  t.equal(await login(auth, 'carol', 'other password'), null, 'second login with another password fails');
  t.same(await login(auth, 'carol', 'first password'), { name: 'carol' });
  t.equal(await auth.checkAllowed!('carol', { name: 'carol' }), true);
  await auth.accounts!.userCreated('carol');
  t.equal(await login(auth, 'carol', 'other password'), null, 'userCreated leaves an existing account alone');
});

t.test('first use: concurrent first logins cannot both claim a name', async (t) => {
  const { auth } = make({ first_use_passwords: true });
  await auth.accounts!.userCreated('erin');
  const results = await Promise.all([login(auth, 'erin', 'password one'), login(auth, 'erin', 'password two')]);
  t.equal(results.filter((r) => r !== null).length, 1, 'exactly one wins');
  const winner = results[0] !== null ? 'password one' : 'password two';
  t.same(await login(auth, 'erin', winner), { name: 'erin' });
});

t.test('without first use, userCreated opens nothing', async (t) => {
  const { auth, store } = make();
  t.equal(auth.hasAllowRules, false);
  await auth.accounts!.userCreated('frank');
  t.equal(await login(auth, 'frank', 'some password'), null);
  t.same(await store.keys(), []);
});

t.test('sign-up with approval: pending accounts are refused with the waiting message until approved', async (t) => {
  const { auth } = make({ enable_signup: true });
  const accounts = auth.accounts!;
  t.equal(accounts.signupEnabled, true);
  t.equal(auth.hasAllowRules, true);
  t.same(await accounts.signUp('gina', 'gina has a secret'), { status: 'pending' });
  t.equal(await login(auth, 'gina', 'wrong password'), null, 'a wrong password does not reveal the pending state');
  t.match(await failure(login(auth, 'gina', 'gina has a secret')), { status: 403, message: WAITING_FOR_APPROVAL });
  t.equal(await auth.checkAllowed!('gina', { name: 'gina' }), false);
  t.same((await accounts.listPending()).map((p) => p.name), ['gina']);
  await accounts.approve('gina');
  t.same(await accounts.listPending(), []);
  t.same(await login(auth, 'gina', 'gina has a secret'), { name: 'gina' });
  t.equal(await auth.checkAllowed!('gina', { name: 'gina' }), true);
  t.match(await failure(accounts.approve('gina')), { status: 404 });
  t.match(await failure(accounts.signUp('gina', 'another secret')), { status: 409, message: /already taken/ });
});

t.test('sign-up: reject forgets the account; open sign-up needs no approval; disabled is a 404', async (t) => {
  const { auth } = make({ enable_signup: true });
  await auth.accounts!.signUp('hank', 'hank has a secret');
  await auth.accounts!.reject('hank');
  t.equal(await auth.accounts!.hasAccount('hank'), false);
  t.equal(await login(auth, 'hank', 'hank has a secret'), null);
  t.match(await failure(auth.accounts!.reject('hank')), { status: 404 });

  const open = make({ enable_signup: true, open_signup: true }).auth;
  t.same(await open.accounts!.signUp('ivy', 'ivy has a secret'), { status: 'active' });
  t.same(await login(open, 'ivy', 'ivy has a secret'), { name: 'ivy' });

  const closed = make().auth;
  t.equal(closed.accounts!.signupEnabled, false);
  t.match(await failure(closed.accounts!.signUp('jon', 'jon has a secret')), { status: 404 });
});

t.test('deleteUser forgets the hash', async (t) => {
  const { auth, store } = make();
  await auth.setPassword!('kim', 'kim has a secret');
  await auth.deleteUser!('kim');
  t.same(await store.keys(), []);
  t.equal(await login(auth, 'kim', 'kim has a secret'), null);
});
