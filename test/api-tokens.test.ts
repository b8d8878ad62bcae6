import { createHash } from 'node:crypto';
import t from 'tap';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ALICE = 'a'.repeat(32);
const BOB = 'b'.repeat(32);
const ADMIN = 'c'.repeat(32);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/;

interface Res {
  status: number;
  body: any;
}

function client(th: TestHub) {
  return async (token: string | null, method: string, path: string, body?: unknown): Promise<Res> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `token ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${th.publicUrl}/hub/api${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed };
  };
}

async function hub(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ALICE]: 'alice', [BOB]: 'bob', [ADMIN]: 'root' } },
      authenticator: { admin_users: ['root'] },
    },
  });
  return { th, api: client(th) };
}

t.test('a user creates a token for themself, uses it, reads and deletes it', async (t) => {
  const { th, api } = await hub(t);

  const created = await api(ALICE, 'POST', '/users/alice/tokens');
  t.equal(created.status, 201, 'an empty POST creates a token: ' + JSON.stringify(created.body));
  const tok = created.body;
  t.match(tok, {
    id: /^a\d+$/, kind: 'api_token', user: 'alice', roles: [], note: 'Requested via api', created: ISO,
    last_activity: null, expires_at: null, session_id: null, oauth_client: 'JupyterHub', token: /^[0-9a-f]{32}$/,
  }, 'the token model, with the secret');
  t.ok(tok.scopes.includes('servers!user=alice') && tok.scopes.includes('tokens!user=alice'), 'default scopes are all of the owner\'s');
  t.notOk(tok.scopes.some((s: string) => s.startsWith('admin:')), 'and nothing an ordinary user lacks');

  const me = await api(tok.token, 'GET', '/user');
  t.equal(me.status, 200, 'the new token works');
  t.equal(me.body.name, 'alice');
  t.equal(me.body.token_id, tok.id, 'and /user names it by its id');

  const got = await api(ALICE, 'GET', `/users/alice/tokens/${tok.id}`);
  t.equal(got.status, 200);
  t.notOk('token' in got.body, 'the secret is shown only once');
  t.equal(got.body.id, tok.id);

  const list = await api(tok.token, 'GET', '/users/alice/tokens');
  t.equal(list.status, 200);
  t.same(Object.keys(list.body), ['api_tokens']);
  const ids = list.body.api_tokens.map((x: { id: string }) => x.id);
  t.ok(ids.includes(tok.id), 'the list has the new token');
  t.equal(ids.length, 2, 'and the configured one, nothing of other users');
  t.notOk(list.body.api_tokens.some((x: object) => 'token' in x), 'the list shows no secrets');

  // The stored form is a hash; the secret appears nowhere in the database.
  const rows = await th.hub.ctx.db.selectFrom('api_tokens').selectAll().execute();
  const row = rows.find((r) => `a${r.id}` === tok.id);
  t.equal(row?.hashed, sha256(tok.token), 'stored as sha256 of the secret');
  t.notOk(JSON.stringify(rows).includes(tok.token), 'the plaintext is stored nowhere');

  const del = await api(ALICE, 'DELETE', `/users/alice/tokens/${tok.id}`);
  t.equal(del.status, 204);
  t.equal((await api(tok.token, 'GET', '/user')).status, 403, 'a deleted token stops working at once');
  t.equal((await api(ALICE, 'GET', `/users/alice/tokens/${tok.id}`)).status, 404, 'and is gone');
  t.equal((await api(ALICE, 'DELETE', `/users/alice/tokens/${tok.id}`)).status, 404, 'deleting it twice is 404');
});

t.test('scopes: a token never holds more than its owner or its requester', async (t) => {
  const { api } = await hub(t);

  const narrow = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['read:users:name!user=alice'], note: 'narrow' });
  t.equal(narrow.status, 201, JSON.stringify(narrow.body));
  t.equal(narrow.body.note, 'narrow', 'a given note is kept');
  t.same(narrow.body.scopes, ['read:users:groups!user=alice', 'read:users:name!user=alice'], 'expanded scopes: the requested one plus identify');
  const me = await api(narrow.body.token, 'GET', '/user');
  t.equal(me.status, 200, 'the narrow token can identify its owner');
  t.equal(me.body.name, 'alice');
  const spawn = await api(narrow.body.token, 'POST', '/users/alice/server');
  t.equal(spawn.status, 403, 'but cannot start a server');
  t.match(spawn.body, { status: 403, message: /not authorized/ });
  t.equal((await api(narrow.body.token, 'GET', '/users/alice/tokens')).status, 403, 'nor read tokens');

  const admin = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['admin:users'] });
  t.equal(admin.status, 400, 'a non-admin cannot get admin:users');
  t.match(admin.body, { status: 400, message: /admin:users.*not held by User alice/ });

  const other = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['read:users!user=bob'] });
  t.equal(other.status, 400, 'nor another user\'s data');
  t.match(other.body.message, /read:users!user=bob/);

  const unknown = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['read:everything'] });
  t.equal(unknown.status, 400, 'unknown scopes are refused');
  t.match(unknown.body.message, /read:everything/);
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['servers!bogus=1'] })).status, 400, 'bad filters are refused');
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { scopes: 'servers' })).status, 400, 'scopes must be a list');
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { scopes: [], roles: [] })).status, 400, 'scopes and roles are exclusive');

  const self = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['self'] });
  t.equal(self.status, 201, 'self is allowed');
  t.ok(self.body.scopes.includes('access:servers!user=alice'));
  const bare = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['read:users!user'] });
  t.equal(bare.status, 201, 'a bare !user filter means the owner');
  t.ok(bare.body.scopes.includes('read:users!user=alice'));

  const byRole = await api(ALICE, 'POST', '/users/alice/tokens', { roles: ['server'] });
  t.equal(byRole.status, 201, 'deprecated roles resolve to their scopes');
  t.ok(byRole.body.scopes.includes('users:activity!user=alice'));
  t.same(byRole.body.roles, []);
  const noRole = await api(ALICE, 'POST', '/users/alice/tokens', { roles: ['nope'] });
  t.equal(noRole.status, 400);
  t.match(noRole.body.message, /No such role: nope/);
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { roles: ['admin'] })).status, 400, 'a role the owner lacks is refused');

  // A narrow credential cannot mint a broader token, even for its own owner.
  const minter = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['tokens!user=alice'] });
  t.equal(minter.status, 201);
  const broad = await api(minter.body.token, 'POST', '/users/alice/tokens');
  t.equal(broad.status, 400, 'a tokens-only token cannot create a full (inherit) token');
  t.match(broad.body.message, /not held by the requester/);
  const escalate = await api(minter.body.token, 'POST', '/users/alice/tokens', { scopes: ['servers!user=alice'] });
  t.equal(escalate.status, 400, 'nor one with scopes it lacks');
  const sub = await api(minter.body.token, 'POST', '/users/alice/tokens', { scopes: ['read:tokens!user=alice'] });
  t.equal(sub.status, 201, 'within its own scopes it can');

  const bobTries = await api(BOB, 'POST', '/users/alice/tokens');
  t.equal(bobTries.status, 404, 'bob cannot create tokens for alice (and learns nothing)');
  const anon = await api(null, 'POST', '/users/alice/tokens');
  t.equal(anon.status, 403, 'no credentials: 403');
  t.same(anon.body, { status: 403, message: 'Missing or invalid credentials.' });
});

t.test('an admin creates tokens for another user within that user\'s scopes', async (t) => {
  const { api } = await hub(t);

  const forBob = await api(ADMIN, 'POST', '/users/bob/tokens');
  t.equal(forBob.status, 201, JSON.stringify(forBob.body));
  t.equal(forBob.body.user, 'bob');
  t.equal(forBob.body.note, 'Requested via api by user root', 'the default note names the requester');
  t.notOk(forBob.body.scopes.some((s: string) => s.startsWith('admin:') || s === 'tokens'), 'bob\'s token has bob\'s permissions, not the admin\'s');
  const me = await api(forBob.body.token, 'GET', '/user');
  t.equal(me.body.name, 'bob', 'the token acts as bob');

  const tooMuch = await api(ADMIN, 'POST', '/users/bob/tokens', { scopes: ['admin:users'] });
  t.equal(tooMuch.status, 400, 'an admin cannot give bob admin:users through a token');
  t.match(tooMuch.body.message, /not held by User bob/);
  const within = await api(ADMIN, 'POST', '/users/bob/tokens', { scopes: ['read:users!user=bob'] });
  t.equal(within.status, 201, 'scopes bob holds are fine');

  const adminList = await api(ADMIN, 'GET', '/users/bob/tokens');
  t.equal(adminList.status, 200, 'an admin can list bob\'s tokens');
  t.equal(adminList.body.api_tokens.length, 3);

  const nobody = await api(ADMIN, 'POST', '/users/nobody/tokens');
  t.equal(nobody.status, 404, 'unknown user: 404');
  t.match(nobody.body, { status: 404, message: /No such user: nobody/ });
  t.equal((await api(ADMIN, 'GET', '/users/nobody/tokens')).status, 404);
});

t.test('request validation', async (t) => {
  const { api } = await hub(t);
  for (const body of ['[1,2]', '"text"', '3']) {
    const res = await api(ALICE, 'POST', '/users/alice/tokens', body);
    t.equal(res.status, 400, `body ${body} is refused`);
    t.match(res.body, { status: 400, message: /JSON dict/ });
  }
  for (const expires_in of [-5, 1.5, '60', true]) {
    const res = await api(ALICE, 'POST', '/users/alice/tokens', { expires_in });
    t.equal(res.status, 400, `expires_in ${JSON.stringify(expires_in)} is refused`);
    t.match(res.body.message, /expires_in/);
  }
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { expires_in: 1e300 })).status, 400, 'absurd expiry is refused');
  for (const expires_in of [0, null]) {
    const res = await api(ALICE, 'POST', '/users/alice/tokens', { expires_in });
    t.equal(res.status, 201, `expires_in ${expires_in} means no expiry`);
    t.equal(res.body.expires_in, undefined);
    t.equal(res.body.expires_at, null);
  }
  const hour = await api(ALICE, 'POST', '/users/alice/tokens', { expires_in: 3600 });
  t.equal(hour.status, 201);
  const at = Date.parse(hour.body.expires_at);
  t.ok(Math.abs(at - (Date.now() + 3600_000)) < 60_000, 'expires_at is an hour ahead: ' + hour.body.expires_at);
  t.equal((await api(ALICE, 'POST', '/users/alice/tokens', { note: 5 })).status, 400, 'a non-string note is refused');
  const bad = await api(ALICE, 'POST', '/users/alice/tokens', '{nope');
  t.same(bad.body, { status: 400, message: 'Invalid JSON in body of request' });
});

t.test('expired tokens stop working and vanish from the list', async (t) => {
  const { th, api } = await hub(t);
  const short = await api(ALICE, 'POST', '/users/alice/tokens', { expires_in: 1 });
  t.equal(short.status, 201);
  t.match(short.body.expires_at, ISO);
  t.equal((await api(short.body.token, 'GET', '/user')).status, 200, 'works while fresh');
  await new Promise((r) => setTimeout(r, 1500));
  const after = await api(short.body.token, 'GET', '/user');
  t.equal(after.status, 403, 'rejected once expired');
  const list = await api(ALICE, 'GET', '/users/alice/tokens');
  t.notOk(list.body.api_tokens.some((x: { id: string }) => x.id === short.body.id), 'not listed');
  const id = Number(short.body.id.slice(1));
  t.equal(await th.hub.ctx.db.selectFrom('api_tokens').select('id').where('id', '=', id).executeTakeFirst(), undefined, 'and deleted from the database');
  t.equal((await api(ALICE, 'GET', `/users/alice/tokens/${short.body.id}`)).status, 404);
});

t.test('list order and 404s', async (t) => {
  const { th, api } = await hub(t);
  const first = await api(ALICE, 'POST', '/users/alice/tokens', { note: 'first' });
  await new Promise((r) => setTimeout(r, 20));
  const second = await api(ALICE, 'POST', '/users/alice/tokens', { note: 'second' });
  // first was used most recently; the configured token long ago
  const db = th.hub.ctx.db;
  await db.updateTable('api_tokens').set({ last_activity: new Date(Date.now() + 1000) }).where('id', '=', Number(first.body.id.slice(1))).execute();
  await db.updateTable('api_tokens').set({ last_activity: new Date(Date.now() - 3600_000) }).where('note', '=', 'from config').execute();
  const listed = (await api(ALICE, 'GET', '/users/alice/tokens')).body.api_tokens;
  t.same(listed.map((x: { note: string }) => x.note), ['from config', 'second', 'first'], 'sorted by last activity, else creation');
  t.match(listed[2].last_activity, ISO, 'last_activity is an isoformat timestamp');

  const bobs = await api(BOB, 'POST', '/users/bob/tokens');
  for (const id of [bobs.body.id, 'abc', 'a999999', 'a', '1', 'a1x', second.body.id.replace('a', 'b')]) {
    const got = await api(ALICE, 'GET', `/users/alice/tokens/${encodeURIComponent(id)}`);
    t.equal(got.status, 404, `GET ${id}: 404`);
    t.match(got.body, { status: 404, message: String });
    t.equal((await api(ALICE, 'DELETE', `/users/alice/tokens/${encodeURIComponent(id)}`)).status, 404, `DELETE ${id}: 404`);
  }
  t.equal((await api(bobs.body.token, 'GET', '/user')).status, 200, 'bob\'s token survived alice\'s attempt');
  t.equal((await api(BOB, 'GET', `/users/alice/tokens/${second.body.id}`)).status, 404, 'bob cannot read alice\'s tokens');
  t.equal((await api(BOB, 'DELETE', `/users/alice/tokens/${second.body.id}`)).status, 404, 'nor delete them');
  t.equal((await api(BOB, 'GET', '/users/alice/tokens')).status, 404, 'nor list them');
  t.equal((await api(ALICE, 'GET', `/users/alice/tokens/${second.body.id}`)).status, 200, 'alice still has it');
  const readOnly = await api(ALICE, 'POST', '/users/alice/tokens', { scopes: ['read:tokens!user=alice'] });
  t.equal((await api(readOnly.body.token, 'GET', '/users/alice/tokens')).status, 200, 'read:tokens lists');
  t.equal((await api(readOnly.body.token, 'DELETE', `/users/alice/tokens/${second.body.id}`)).status, 403, 'but cannot delete');
});

t.test('deleting an OAuth token revokes every token of that client', async (t) => {
  const { th, api } = await hub(t);
  const db = th.hub.ctx.db;
  const alice = await db.selectFrom('users').select('id').where('name', '=', 'alice').executeTakeFirstOrThrow();
  await db.insertInto('oauth_clients').values({
    identifier: 'jupyterhub-user-alice', secret_hash: sha256('client-secret'), redirect_uri: '/user/alice/oauth_callback',
    description: 'Server at /user/alice/', allowed_scopes: JSON.stringify(['access:servers!server=alice/']),
  }).execute();
  const secrets = ['1'.repeat(32), '2'.repeat(32)];
  const ids: number[] = [];
  for (const s of secrets) {
    const row = await db.insertInto('api_tokens').values({
      user_id: alice.id, hashed: sha256(s), prefix: s.slice(0, 4), note: 'OAuth token', client_id: 'jupyterhub-user-alice',
      session_id: 'sess-1', scopes: JSON.stringify(['access:servers!server=alice/', 'read:users:name!user=alice']),
    }).returning('id').executeTakeFirstOrThrow();
    ids.push(row.id);
  }
  const plain = await api(ALICE, 'POST', '/users/alice/tokens', { note: 'keep me' });

  const listed = (await api(ALICE, 'GET', '/users/alice/tokens')).body.api_tokens;
  const oauth = listed.find((x: { id: string }) => x.id === `a${ids[0]}`);
  t.match(oauth, { oauth_client: 'Server at /user/alice/', session_id: 'sess-1', kind: 'api_token', user: 'alice' }, 'an OAuth token names its client');
  t.ok(oauth.scopes.includes('access:servers!server=alice/'));
  t.equal((await api(secrets[1]!, 'GET', '/user')).status, 200, 'the OAuth tokens work');

  const del = await api(ALICE, 'DELETE', `/users/alice/tokens/a${ids[0]}`);
  t.equal(del.status, 204);
  const left = await db.selectFrom('api_tokens').select('id').where('client_id', '=', 'jupyterhub-user-alice').execute();
  t.same(left, [], 'both tokens of the client are gone');
  t.equal((await api(secrets[1]!, 'GET', '/user')).status, 403, 'the sibling token stopped working at once');
  t.equal((await api(plain.body.token, 'GET', '/user')).status, 200, 'other tokens are untouched');
  t.equal((await api(ALICE, 'GET', '/user')).status, 200);
});

t.test('a group-scoped role can mint tokens for group members within its own scopes', async (t) => {
  const TA = 'd'.repeat(32);
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ALICE]: 'alice', [BOB]: 'bob', [TA]: 'ta' }, load_groups: { class: ['alice'] } },
      load_roles: [{ name: 'ta', scopes: ['tokens!group=class', 'read:users!group=class'], users: ['ta'] }],
    },
  });
  const api = client(th);
  const full = await api(TA, 'POST', '/users/alice/tokens');
  t.equal(full.status, 400, 'the TA cannot mint a token with all of alice\'s permissions');
  t.match(full.body.message, /not held by the requester/);
  const read = await api(TA, 'POST', '/users/alice/tokens', { scopes: ['read:users!user=alice'] });
  t.equal(read.status, 201, 'but can mint one within the group scopes it holds: ' + JSON.stringify(read.body));
  t.equal(read.body.note, 'Requested via api by user ta');
  t.equal((await api(TA, 'GET', '/users/alice/tokens')).status, 200, 'and list a member\'s tokens');
  t.equal((await api(TA, 'GET', '/users/bob/tokens')).status, 404, 'but not a non-member\'s');
  t.equal((await api(TA, 'POST', '/users/bob/tokens', { scopes: ['read:users!user=bob'] })).status, 404);
});
