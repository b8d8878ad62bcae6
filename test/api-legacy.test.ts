import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { startTestHub } from './support/test-hub.js';

const ADMIN = '3'.repeat(32);
const ALICE = '4'.repeat(32);

t.test('deprecated endpoints old clients still call', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root', [ALICE]: 'alice' } }, authenticator: { admin_users: ['root'] } } });
  const api = (path: string, token: string | null, init: RequestInit = {}) =>
    fetch(`${th.hubUrl}/hub/api${path}`, { ...init, headers: { ...(token ? { authorization: `token ${token}` } : {}), ...(init.headers ?? {}) } });

  const owner = await api(`/authorizations/token/${ALICE}`, ADMIN);
  t.equal(owner.status, 200, 'a token resolves to its owner');
  t.match(await owner.json(), { kind: 'user', name: 'alice' });
  t.equal((await api(`/authorizations/token/${'0'.repeat(32)}`, ADMIN)).status, 404, 'an unknown token is a 404');
  t.equal((await api(`/authorizations/token/${ALICE}`, null)).status, 403, 'the caller needs a token itself');
  const removed = await api('/authorizations/token', ADMIN, { method: 'POST' });
  t.equal(removed.status, 404);
  t.match(await removed.json(), { message: /removed in JupyterHub 2\.0/ });

  const c = new BrowserClient(th.publicUrl);
  await c.submit(await c.get('/hub/login'), '/hub/login?next=%2Fhub%2Fhome', { username: 'bob', password: 'x' });
  const cookie = await c.cookieValue('jupyterhub-hub-login', '/hub/');
  const who = await api(`/authorizations/cookie/jupyterhub-hub-login/${encodeURIComponent(cookie!)}`, ADMIN);
  t.equal(who.status, 200, 'a login cookie resolves to its user');
  t.match(await who.json(), { kind: 'user', name: 'bob' });
  t.equal((await api('/authorizations/cookie/jupyterhub-hub-login/forged.value', ADMIN)).status, 404, 'a forged cookie does not');

  const access = await api('/users/alice/admin-access', ADMIN, { method: 'POST' });
  t.equal(access.status, 403, 'admin-access is refused while admin_access is off');
  t.match(await access.json(), { message: 'admin access to user servers disabled' });
});

t.test('token_expires_in_max_seconds caps and defaults token lifetimes', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ALICE]: 'alice' }, token_expires_in_max_seconds: 3600 } } });
  const post = (body: unknown) =>
    fetch(`${th.hubUrl}/hub/api/users/alice/tokens`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `token ${ALICE}`, 'content-type': 'application/json' } });
  const tooLong = await post({ expires_in: 7200 });
  t.equal(tooLong.status, 400, 'longer than the maximum is refused');
  t.match(await tooLong.json(), { message: /must not exceed 3600/ });
  const dflt = (await (await post({})).json()) as { expires_at: string };
  const left = (Date.parse(dflt.expires_at) - Date.now()) / 1000;
  t.ok(left > 3500 && left <= 3600, `without expires_in the maximum is the default (${Math.round(left)} s left)`);
});
