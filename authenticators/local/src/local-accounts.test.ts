import t from 'tap';
import type { AuthContext, Authenticator, PluginLogger } from '@tshub/plugin-api';
import { accountKey } from './account-book.js';
import { localAuthenticator } from './local.js';
import type { LocalAuthConfig } from './local-config.js';
import { MemoryStore } from './memory-store.js';

const warnings: unknown[] = [];
const log: PluginLogger = { debug() {}, info() {}, warn: (obj) => void warnings.push(obj), error() {} };

function make(config: LocalAuthConfig = {}) {
  const store = new MemoryStore();
  const ctx: AuthContext<LocalAuthConfig> = { config, store, log, urls: { hubPrefix: '/hub/', publicOrigin: '' } };
  return { store, auth: localAuthenticator.create(ctx) };
}

const login = (auth: Authenticator, username: string, password: string) =>
  auth.authenticate({ fields: { username, password }, remoteAddress: '127.0.0.1' });
const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

t.test('lockout: N wrong passwords lock the account, even the right one is refused, an admin unlocks', async (t) => {
  const { auth } = make({ allowed_failed_logins: 3, seconds_before_next_try: 0 });
  await auth.setPassword!('alice', 'alice secret');
  t.equal(await login(auth, 'alice', 'wrong 1'), null);
  t.same(await login(auth, 'alice', 'alice secret'), { name: 'alice' }, 'a success resets the count');
  for (let i = 0; i < 3; i++) t.equal(await login(auth, 'alice', `wrong ${i}`), null);
  t.equal(warnings.length, 1, 'the lock is logged once');
  const err = await failure(login(auth, 'alice', 'alice secret'));
  t.match(err, { status: 403, message: /locked after 3 failed logins\. Ask an administrator to unlock it/ });
  t.same(await auth.accounts!.listLocked(), [{ name: 'alice', until: null }]);
  await auth.accounts!.unlock('alice');
  t.same(await auth.accounts!.listLocked(), []);
  t.same(await login(auth, 'alice', 'alice secret'), { name: 'alice' });
  t.match(await failure(auth.accounts!.unlock('nobody')), { status: 404 });
});

t.test('lockout: a timed lock says how long, carries Retry-After, and runs out', async (t) => {
  const { auth, store } = make({ allowed_failed_logins: 2, seconds_before_next_try: 600 });
  await auth.setPassword!('bob', 'bob secret!');
  await login(auth, 'bob', 'nope one');
  await login(auth, 'bob', 'nope two');
  const err = await failure(login(auth, 'bob', 'bob secret!'));
  t.match(err, { status: 403, message: /Try again in 10 minutes/, headers: { 'Retry-After': /^(600|599)$/ } });
  const [locked] = await auth.accounts!.listLocked();
  t.ok(locked?.until && Date.parse(locked.until) > Date.now() + 590_000, 'until is ten minutes ahead');
  // Let the lock run out by moving it into the past.
  const record = (await store.get(accountKey('bob'))) as { locked: { since: string; until: string } };
  record.locked.until = new Date(Date.now() - 1000).toISOString();
  await store.set(accountKey('bob'), record);
  t.same(await auth.accounts!.listLocked(), []);
  t.equal(await login(auth, 'bob', 'nope three'), null, 'one more failure after an expired lock does not lock again');
  t.same(await login(auth, 'bob', 'bob secret!'), { name: 'bob' });
});

t.test('allowed_failed_logins 0 never locks', async (t) => {
  const { auth } = make({ allowed_failed_logins: 0 });
  await auth.setPassword!('carl', 'carl secret');
  for (let i = 0; i < 8; i++) await login(auth, 'carl', `wrong ${i}`);
  t.same(await login(auth, 'carl', 'carl secret'), { name: 'carl' });
});

t.test('changePassword checks the old password and the rules', async (t) => {
  const { auth } = make();
  const accounts = auth.accounts!;
  await auth.setPassword!('dana', 'dana secret');
  t.match(await failure(accounts.changePassword('dana', 'wrong', 'dana new secret')), { status: 403, message: /current password is not correct/ });
  t.match(await failure(accounts.changePassword('dana', '', 'dana new secret')), { status: 403 });
  t.match(await failure(accounts.changePassword('dana', 'dana secret', 'dana secret')), { status: 400, message: /differ/ });
  t.match(await failure(accounts.changePassword('dana', 'dana secret', 'short')), { status: 400, message: /at least 8/ });
  t.match(await failure(accounts.changePassword('dana', 'dana secret', 'iloveyou')), { status: 400, message: /common/ });
  t.match(await failure(accounts.changePassword('nobody', 'x', 'nobody new secret')), { status: 400, message: /no password/ });
  await accounts.changePassword('dana', 'dana secret', 'dana new secret');
  t.equal(await login(auth, 'dana', 'dana secret'), null);
  t.same(await login(auth, 'dana', 'dana new secret'), { name: 'dana' });
});

t.test('resetPassword sets a password, unlocks, and with first use can clear it', async (t) => {
  const { auth } = make({ allowed_failed_logins: 1, seconds_before_next_try: 0 });
  const accounts = auth.accounts!;
  await accounts.resetPassword('eve', 'eve first secret');
  t.same(await login(auth, 'eve', 'eve first secret'), { name: 'eve' }, 'reset creates the account');
  await login(auth, 'eve', 'wrong');
  t.equal((await accounts.listLocked()).length, 1);
  await accounts.resetPassword('eve', 'eve second secret');
  t.same(await accounts.listLocked(), [], 'a reset ends the lock');
  t.same(await login(auth, 'eve', 'eve second secret'), { name: 'eve' });
  t.match(await failure(accounts.resetPassword('eve', null)), { status: 400, message: /allow_first_use/ });
  t.match(await failure(accounts.resetPassword('eve', '123')), { status: 400 });

  const fu = make({ allow_first_use: true }).auth;
  await fu.setPassword!('finn', 'finn old secret');
  await fu.accounts!.resetPassword('finn', null);
  t.equal(await fu.pendingAdminSetup!(['finn']), 'finn');
  t.same(await login(fu, 'finn', 'finn new secret'), { name: 'finn' }, 'the next login sets the password');
  t.equal(await login(fu, 'finn', 'finn old secret'), null);
});

t.test('a pending account keeps waiting after an admin reset', async (t) => {
  const { auth } = make({ enable_signup: true });
  await auth.accounts!.signUp('gus', 'gus has a secret');
  await auth.accounts!.resetPassword('gus', 'gus new secret');
  t.match(await failure(login(auth, 'gus', 'gus new secret')), { status: 403, message: /waiting for approval/ });
  t.same((await auth.accounts!.listPending()).map((p) => p.name), ['gus']);
});

t.test('userRenamed moves the account, password and all', async (t) => {
  const { auth } = make();
  await auth.setPassword!('hal', 'hal has a secret');
  await auth.accounts!.userRenamed('hal', 'hal9000');
  t.equal(await login(auth, 'hal', 'hal has a secret'), null, 'the old name no longer logs in');
  t.same(await login(auth, 'hal9000', 'hal has a secret'), { name: 'hal9000' });
  await auth.accounts!.userRenamed('nobody', 'somebody');
  t.equal(await auth.accounts!.hasAccount('somebody'), false, 'renaming a user without an account creates none');
});
