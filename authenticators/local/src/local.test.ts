import t from 'tap';
import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, PluginLogger } from '@tshub/plugin-api';
import { accountKey, localAuthenticator } from './local.js';
import type { LocalAuthConfig } from './local.js';
import { MemoryStore } from './memory-store.js';

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

function make(config: LocalAuthConfig = {}, log: PluginLogger = silent) {
  const store = new MemoryStore();
  const ctx: AuthContext<LocalAuthConfig> = { config, store, log };
  return { store, auth: localAuthenticator.create(ctx) };
}

const login = (auth: Authenticator, username: string, password: string) =>
  auth.authenticate({ fields: { username, password }, remoteAddress: '127.0.0.1' });

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
  t.equal(schema.type, 'object');
  t.same(Object.keys(schema.properties).sort(), ['allow_signup', 'first_use_passwords', 'minimum_password_length']);
  for (const [key, prop] of Object.entries(schema.properties)) {
    t.type(prop.description, 'string', `${key} has a description`);
    t.not(prop.default, undefined, `${key} has a default`);
  }
  t.equal(schema.properties['minimum_password_length']!.default, 8);
});

t.test('setPassword then login; wrong password, unknown user and empty fields give null', async (t) => {
  const { auth, store } = make();
  t.equal(auth.loginKind, 'form');
  await auth.setPassword!('alice', 'correct horse');
  const record = (await store.get(accountKey('alice'))) as Record<string, string>;
  t.match(record.password_hash, /^\$argon2id\$/, 'argon2id PHC string');
  t.notMatch(JSON.stringify(record), /correct horse/, 'plain password not stored');
  t.type(record.created, 'string');

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

t.test('setPassword enforces the minimum length with a 400', async (t) => {
  const { auth, store } = make({ minimum_password_length: 10 });
  const err = await auth.setPassword!('alice', 'short').catch((e: unknown) => e);
  t.ok(err instanceof HubError, 'a HubError');
  t.match(err, { status: 400, message: /at least 10 characters/ });
  t.match(await auth.setPassword!('alice', '').catch((e: unknown) => e), { status: 400, message: /empty/ });
  t.match(await auth.setPassword!('', 'long enough pw').catch((e: unknown) => e), { status: 400 });
  t.same(await store.keys(), []);
  await auth.setPassword!('alice', '0123456789');
  t.same(await login(auth, 'alice', '0123456789'), { name: 'alice' });
});

t.test('a damaged account record is a failed login, not a crash', async (t) => {
  const { auth, store } = make();
  await store.set(accountKey('alice'), { password_hash: 'not-a-phc-string', created: 'x' });
  await store.set(accountKey('bob'), 'garbage');
  t.equal(await login(auth, 'alice', 'anything at all'), null);
  t.equal(await login(auth, 'bob', 'anything at all'), null);
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
  const { auth } = make();
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
  t.ok(ratio >= 0.5, `unknown-user login takes at least half as long (ratio ${ratio.toFixed(2)})`);
});

t.test('first_use_passwords: the first login sets the password', async (t) => {
  const { auth, store } = make({ first_use_passwords: true });
  t.match(auth.loginHint, /becomes your password/);
  t.same(await login(auth, 'carol', 'first password'), { name: 'carol' });
  t.match(((await store.get(accountKey('carol'))) as Record<string, string>).password_hash, /^\$argon2id\$/);
  t.equal(await login(auth, 'carol', 'other password'), null, 'second login with another password fails');
  t.same(await login(auth, 'carol', 'first password'), { name: 'carol' });
  t.equal(await auth.pendingAdminSetup!(['carol']), null);
});

t.test('first_use_passwords: a too-short first password is a 400 and claims nothing', async (t) => {
  const { auth, store } = make({ first_use_passwords: true });
  const err = await login(auth, 'dave', 'short').catch((e: unknown) => e);
  t.ok(err instanceof HubError, 'a HubError');
  t.match(err, { status: 400, message: /at least 8 characters/ });
  t.same(await store.keys(), []);
  t.equal(await login(auth, 'dave', ''), null, 'empty password is a plain failure');
});

t.test('first_use_passwords: concurrent first logins cannot both claim a name', async (t) => {
  const { auth } = make({ first_use_passwords: true });
  const results = await Promise.all([login(auth, 'erin', 'password one'), login(auth, 'erin', 'password two')]);
  t.equal(results.filter((r) => r !== null).length, 1, 'exactly one wins');
  const winner = results[0] !== null ? 'password one' : 'password two';
  t.same(await login(auth, 'erin', winner), { name: 'erin' });
});

t.test('without first_use_passwords an unknown user never creates an account', async (t) => {
  const { auth, store } = make();
  t.equal(await login(auth, 'frank', 'some password'), null);
  t.same(await store.keys(), []);
});

t.test('allow_signup is accepted and warned about', async (t) => {
  const warnings: unknown[] = [];
  make({ allow_signup: true }, { ...silent, warn: (obj) => void warnings.push(obj) });
  t.equal(warnings.length, 1);
  make({ allow_signup: false }, { ...silent, warn: (obj) => void warnings.push(obj) });
  t.equal(warnings.length, 1);
});
