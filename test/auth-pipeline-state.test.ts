// auth_state encrypted at rest with JUPYTERHUB_CRYPT_KEY (issue #5 acceptance 3) and refresh_user:
// the database row holds no plaintext, the spawner's context gets the decrypted state, the REST API
// reads and writes through the same encryption, a key rotation ("new;old") reads old rows and
// re-encrypts on write; refresh_user on every request (auth_refresh_age 0) updates or ends logins.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { fakeRedirectAuthenticator, redirectLogin } from './support/fake-redirect-authenticator.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { authDataDir, startAuthHub, type AuthHub } from './support/auth-test-hub.js';

const storedState = async (h: AuthHub, name: string) =>
  (await h.hub.ctx.db.selectFrom('users').select('auth_state').where('name', '=', name).executeTakeFirstOrThrow()).auth_state;

const json = async (page: Page | Promise<Page>) => JSON.parse((await page).text) as Record<string, unknown>;

t.test('auth_state: encrypted at rest, handed to the spawner, survives key rotation', async (t) => {
  const oldKey = randomBytes(32).toString('hex');
  const newKey = randomBytes(32).toString('base64');
  const { plugin, control } = fakeRedirectAuthenticator();
  control.people['c-alice'] = { name: 'alice', authState: { access_token: 'SECRET-ACCESS-TOKEN-1', scopes: ['read'] } };
  control.people['c-root'] = { name: 'root' };
  const spawner = recordingSpawner();
  const dataDir = authDataDir(t);
  const opts = (key: string) => ({
    authenticators: [plugin], spawners: [spawner.plugin], dataDir, env: { JUPYTERHUB_CRYPT_KEY: key },
    authenticator: { kind: 'fake-redirect', enable_auth_state: true, manage_groups: true, allowed_users: ['alice'], admin_users: ['root'], auth_refresh_age: 0 },
  });

  let h = await startAuthHub(t, opts(oldKey));
  const alice = new BrowserClient(h.publicUrl);
  t.equal((await redirectLogin(alice, 'c-alice')).status, 302, 'alice logged in');
  const row = await storedState(h, 'alice');
  t.ok(row, 'auth_state stored');
  t.notMatch(row, /SECRET-ACCESS-TOKEN-1|access_token|scopes/, 'the database row holds no plaintext');
  t.match(row, /^tshub-aes256gcm:v1:/, 'but ciphertext');

  const spawn = await alice.api('/users/alice/server', { method: 'POST' });
  t.ok([201, 202].includes(spawn.status), `spawned (${spawn.status})`);
  t.same(spawner.contexts.at(-1)?.user.authState, { access_token: 'SECRET-ACCESS-TOKEN-1', scopes: ['read'] }, 'the spawner got the decrypted auth_state');
  t.same(control.refreshStates.at(-1), { access_token: 'SECRET-ACCESS-TOKEN-1', scopes: ['read'] }, 'and so did refresh_user');
  t.equal((await alice.api('/users/alice/server', { method: 'DELETE' })).status < 300, true, 'stopped');

  const root = new BrowserClient(h.publicUrl);
  await redirectLogin(root, 'c-root');
  t.same((await json(root.api('/users/alice'))).auth_state, { access_token: 'SECRET-ACCESS-TOKEN-1', scopes: ['read'] }, 'GET decrypts for admin:auth_state');
  t.notOk('auth_state' in (await json(alice.api('/users/alice'))), 'not shown to the user herself');
  const patched = await root.api('/users/alice', { method: 'PATCH', body: JSON.stringify({ auth_state: { access_token: 'PATCHED-TOKEN-2' } }), headers: { 'content-type': 'application/json' } });
  t.equal(patched.status, 200);
  t.same(JSON.parse(patched.text).auth_state, { access_token: 'PATCHED-TOKEN-2' }, 'PATCH returns it');
  const patchedRow = await storedState(h, 'alice');
  t.notMatch(patchedRow, /PATCHED-TOKEN-2/, 'PATCH writes ciphertext');
  await h.close();

  // Rotation: the new key first, the old one still listed.
  h = await startAuthHub(t, opts(`${newKey};${oldKey}`));
  const root2 = new BrowserClient(h.publicUrl);
  await redirectLogin(root2, 'c-root');
  t.same((await json(root2.api('/users/alice'))).auth_state, { access_token: 'PATCHED-TOKEN-2' }, 'a row written under the old key still reads');
  const startRow = (await storedState(h, 'alice'))!;
  t.not(startRow.split('.')[0], patchedRow!.split('.')[0], 'the start-up pass re-encrypted the old row with the new key, so the old key can be retired');
  await root2.api('/users/alice', { method: 'PATCH', body: JSON.stringify({ auth_state: { access_token: 'AFTER-ROTATION-3' } }), headers: { 'content-type': 'application/json' } });
  const rotatedRow = (await storedState(h, 'alice'))!;
  t.not(rotatedRow.split('.')[0], patchedRow!.split('.')[0], 'the write used the new key (its key id)');
  const alice2 = new BrowserClient(h.publicUrl);
  await redirectLogin(alice2, 'c-alice');
  t.equal((await storedState(h, 'alice'))!.split('.')[0], rotatedRow.split('.')[0], 'a login encrypts with the new key too');
  t.same((await json(root2.api('/users/alice'))).auth_state, { access_token: 'SECRET-ACCESS-TOKEN-1', scopes: ['read'] });
});

t.test('refresh_user on every request (auth_refresh_age: 0) updates or ends the login', async (t) => {
  const { plugin, control } = fakeRedirectAuthenticator();
  control.people['c-alice'] = { name: 'alice', groups: ['g1'], authState: { v: 1 } };
  control.people['c-bob'] = { name: 'bob' };
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    authenticators: [plugin], spawners: [spawner.plugin], env: { JUPYTERHUB_CRYPT_KEY: randomBytes(32).toString('hex') },
    authenticator: { kind: 'fake-redirect', enable_auth_state: true, manage_groups: true, allowed_users: ['alice', 'bob'], auth_refresh_age: 0 },
  });
  const alice = new BrowserClient(h.publicUrl);
  await redirectLogin(alice, 'c-alice');
  control.refreshCalls.length = 0;
  t.same((await json(alice.api('/user'))).groups, ['g1']);
  t.ok(control.refreshCalls.includes('alice'), 'checked on the request');

  control.refresh.alice = { name: 'alice', admin: true, groups: ['g2', 'g3'], authState: { v: 2 } };
  const seen = control.refreshStates.length;
  const model = await json(alice.api('/user'));
  t.same(model.groups, ['g2', 'g3'], 'a refreshed model replaces the groups at once');
  t.equal(model.admin, true, 'and sets admin');
  t.same(control.refreshStates[seen], { v: 1 }, 'refresh_user saw the stored auth_state');
  t.same(control.refreshStates.at(-1), { v: 2 }, 'the next one saw the new auth_state');

  control.refresh.alice = new Error('IdP down');
  t.equal((await alice.api('/user')).status, 200, 'a provider outage does not log anyone out');

  control.refresh.alice = false;
  const page = await alice.request('/hub/home');
  t.equal(page.status, 302, 'a revoked login: pages ask to log in again');
  t.match(page.headers.get('location'), /^\/hub\/login\?next=/);
  control.refresh.alice = true;
  t.equal((await alice.request('/hub/api/user')).status, 403, 'and the session is gone for good (API 403)');

  const bob = new BrowserClient(h.publicUrl);
  await redirectLogin(bob, 'c-bob');
  const token = JSON.parse((await bob.api('/users/bob/tokens', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).text).token as string;
  const withToken = (path: string) => fetch(`${h.publicUrl}/hub/api${path}`, { headers: { authorization: `token ${token}` } });
  t.equal((await withToken('/user')).status, 200, 'token works while the login holds');
  control.refresh.bob = false;
  t.equal((await withToken('/user')).status, 403, 'token requests are refused once refresh_user says no');
});
