import t, { type Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ADMIN = 'a'.repeat(32);
const ALICE = 'b'.repeat(32);
const BOB = 'c'.repeat(32);
const CAROL = 'd'.repeat(32);
const DAVE = 'e'.repeat(32);
const FRANK = 'f'.repeat(32);
const PAGINATED = { accept: 'application/jupyterhub-pagination+json' };

interface Res {
  status: number;
  body: any;
  headers: Headers;
}

/** A JSON API client for one token. */
function client(th: TestHub, token: string | null) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> => {
    const res = await fetch(`${th.publicUrl}/hub/api${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `token ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
}

/**
 * alice and frank may share (frank without being able to look up names); bob, carol and dave may not.
 * dave is in the group `class`. After login everyone lands on /hub/home (no spawn of their own).
 */
async function sharesHub(t: Test) {
  return startTestHub(t, {
    config: {
      hub: {
        api_tokens: { [ADMIN]: 'root', [ALICE]: 'alice', [BOB]: 'bob', [CAROL]: 'carol', [DAVE]: 'dave', [FRANK]: 'frank' },
        load_groups: { class: ['dave', 'erin'] },
        redirect_to_server: false,
      },
      authenticator: { admin_users: ['root'] },
      load_roles: [
        { name: 'sharer', scopes: ['shares!user', 'read:users:name', 'read:groups:name'], users: ['alice'] },
        { name: 'nameless-sharer', scopes: ['shares!user'], users: ['frank'] },
      ],
    },
  });
}

/**
 * Opens someone else's server: the hub first asks the visitor to authorize it (JupyterHub's
 * needs_oauth_confirm); this confirms and follows on to the server. Returns the confirmation page
 * and where the browser ended.
 */
async function openOthersServer(browser: BrowserClient, path: string): Promise<{ confirm: Page; page: Page }> {
  const confirm = await browser.get(path);
  const unescape = (v: string) => v.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const fields: Record<string, string> = {};
  for (const m of confirm.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) if (m[1] !== '_xsrf') fields[m[1]!] = unescape(m[2]!);
  return { confirm, page: await browser.submit(confirm, '/hub/api/oauth2/authorize', fields) };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/;
const ACCESS = 'access:servers!server=alice/';

t.test('shares: grant, list, revoke, and what the grantee can reach through the proxy', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const th = await sharesHub(t);
  const [admin, alice, bob, dave, frank, anon] = [ADMIN, ALICE, BOB, DAVE, FRANK, null].map((tok) => client(th, tok));
  const aliceId = (await th.hub.ctx.db.selectFrom('users').select('id').where('name', '=', 'alice').executeTakeFirstOrThrow()).id;

  const start = await alice('POST', '/users/alice/server');
  t.ok([201, 202].includes(start.status), `alice starts her server (${start.status})`);
  await waitFor('alice ready', () => th.hub.ctx.servers.get(aliceId, '')?.ready === true);

  // --- grant ---
  const granted = await alice('POST', '/shares/alice/', { user: 'bob' });
  t.equal(granted.status, 200, 'grant answers 200');
  t.same(granted.body, {
    server: { user: { name: 'alice' }, name: '', url: '/user/alice/', full_url: null, ready: true },
    scopes: [ACCESS], user: { name: 'bob' }, group: null, kind: 'user', created_at: granted.body.created_at,
  }, 'the Share model, with the default scope');
  t.match(granted.body.created_at, ISO, 'created_at is an isoformat timestamp');

  const more = await alice('POST', '/shares/alice/', { user: 'bob', scopes: ['read:servers'] });
  t.same(more.body.scopes, [ACCESS, 'read:servers!server=alice/'], 'granting again adds scopes (filtered to the server)');
  t.equal(more.body.created_at, granted.body.created_at, 'to the same share');
  const fewer = await alice('PATCH', '/shares/alice/', { user: 'bob', scopes: ['read:servers'] });
  t.equal(fewer.status, 200);
  t.same(fewer.body.scopes, [ACCESS], 'PATCH revokes only the given scopes (unfiltered names match)');

  const toGroup = await alice('POST', '/shares/alice/', { group: 'class' });
  t.equal(toGroup.status, 200);
  t.match(toGroup.body, { user: null, group: { name: 'class' }, kind: 'group', scopes: [ACCESS] }, 'a group share');

  // --- lists are always paginated ---
  const all = await alice('GET', '/shares/alice');
  t.equal(all.status, 200);
  t.same(all.body._pagination, { offset: 0, limit: 200, total: 2, next: null }, 'paginated shape without the Accept header');
  t.same(all.body.items.map((s: any) => s.kind), ['user', 'group'], 'in creation order');
  const page1 = await alice('GET', '/shares/alice/?limit=1', undefined, PAGINATED);
  t.equal(page1.body.items.length, 1);
  t.match(page1.body._pagination, { offset: 0, limit: 1, total: 2, next: { offset: 1, limit: 1 } });
  t.match(page1.body._pagination.next.url, /\/hub\/api\/shares\/alice\/\?.*offset=1/);
  t.equal((await alice('GET', '/shares/alice/?limit=x')).status, 400, 'bad limit');

  const bobShared = await bob('GET', '/users/bob/shared');
  t.equal(bobShared.status, 200);
  t.same(bobShared.body._pagination.total, 1, 'bob sees what is shared with him');
  const daveShared = await dave('GET', '/users/dave/shared');
  t.same(daveShared.body.items.map((s: any) => s.group?.name), ['class'], 'dave sees the share to his group');
  t.equal((await admin('GET', '/groups/class/shared')).body._pagination.total, 1, 'the group\'s shares');
  t.match(await bob('GET', '/users/bob/shared/alice/'), { status: 200, body: { user: { name: 'bob' }, scopes: [ACCESS] } }, 'bob\'s one share');
  t.match(await admin('GET', '/groups/class/shared/alice/'), { status: 200, body: { group: { name: 'class' } } }, 'the group\'s one share');

  // --- the grant is part of the grantee's scopes ---
  t.ok((await bob('GET', '/user')).body.scopes.includes(ACCESS), 'bob now holds access to alice\'s server');
  t.ok((await dave('GET', '/user')).body.scopes.includes(ACCESS), 'dave holds it through the group');
  t.notOk((await client(th, CAROL)('GET', '/user')).body.scopes.includes(ACCESS), 'carol does not');

  const bobBrowser = new BrowserClient(th.publicUrl);
  await bobBrowser.login('bob');
  const { confirm: bobConfirm, page: opened } = await openOthersServer(bobBrowser, '/user/alice/');
  t.match(bobConfirm.text, /The server <strong>alice\/<\/strong> of <strong>alice<\/strong> would like to know your identity/, 'bob is asked to authorize alice\'s server first');
  t.equal(opened.status, 200, `bob opens alice's server through the OAuth handshake (${bobBrowser.hops.slice(-4).join(' | ')})`);
  t.match(bobBrowser.hops.join(' | '), /\/hub\/api\/oauth2\/authorize/, 'the hub authorized him');
  const status = await bobBrowser.request('/user/alice/api/status');
  t.equal(status.status, 200, 'bob reaches /user/alice/api/status through the proxy');
  t.match(JSON.parse(status.text), { kernels: Number });

  // --- revoke everything ---
  const revoked = await alice('DELETE', '/shares/alice/');
  t.equal(revoked.status, 204, 'DELETE revokes all shares of the server');
  t.equal((await alice('GET', '/shares/alice')).body._pagination.total, 0, 'none left');
  t.notOk((await bob('GET', '/user')).body.scopes.includes(ACCESS), 'bob lost the scope at once');
  t.notOk((await dave('GET', '/user')).body.scopes.includes(ACCESS), 'so did dave');
  t.equal((await bob('GET', '/users/bob/shared/alice/')).status, 404, 'bob\'s share is gone');

  const bobAgain = new BrowserClient(th.publicUrl);
  await bobAgain.login('bob');
  const refused = await bobAgain.get('/user/alice/');
  t.equal(refused.status, 403, `a fresh login of bob is refused by the hub (${bobAgain.hops.slice(-3).join(' | ')})`);
  t.match(refused.text, /do not have permission to access/);
  t.not((await bobAgain.request('/user/alice/api/status')).status, 200, 'and gets no API access');

  // --- PATCH without scopes revokes the whole share; revoking from nobody is {} ---
  await alice('POST', '/shares/alice/', { user: 'bob' });
  t.same((await alice('PATCH', '/shares/alice/', { user: 'bob' })).body, {}, 'PATCH without scopes: nothing left, {}');
  t.same((await alice('PATCH', '/shares/alice/', { user: 'nobody' })).body, {}, 'an unknown user: {}');
  t.same((await alice('PATCH', '/shares/alice/', { group: 'nogroup' })).body, {}, 'an unknown group: {}');

  // --- a user removes a share given to them; an admin removes a group's share ---
  await alice('POST', '/shares/alice/', { user: 'bob' });
  await alice('POST', '/shares/alice/', { group: 'class' });
  t.equal((await bob('DELETE', '/users/bob/shared/alice/')).status, 204, 'bob drops his share');
  t.equal((await bob('DELETE', '/users/bob/shared/alice/')).status, 404, 'only once');
  t.equal((await admin('DELETE', '/groups/class/shared/alice/')).status, 204, 'admin drops the group share');
  t.equal((await admin('GET', '/groups/class/shared/alice/')).status, 404);
  t.equal((await alice('GET', '/shares/alice')).body._pagination.total, 0);

  t.test('errors', async (t) => {
    const cases: Array<[string, Res, number, RegExp?]> = [
      ['no credentials', await anon('GET', '/shares/alice'), 403, /Missing or invalid credentials/],
      ['bob may not share alice\'s server', await bob('POST', '/shares/alice/', { user: 'carol' }), 403],
      ['bob lists alice\'s shares', await bob('GET', '/shares/alice'), 404],
      ['alice shares bob\'s server', await alice('POST', '/shares/bob/', { user: 'carol' }), 404],
      ['POST on /shares/:owner', await alice('POST', '/shares/alice', { user: 'bob' }), 405],
      ['PATCH on /shares/:owner', await alice('PATCH', '/shares/alice', { user: 'bob' }), 405],
      ['DELETE on /shares/:owner', await alice('DELETE', '/shares/alice'), 405],
      ['POST on /shares/:owner without the scope', await bob('POST', '/shares/alice'), 403],
      ['both user and group', await alice('POST', '/shares/alice/', { user: 'bob', group: 'class' }), 400, /not both/],
      ['neither user nor group', await alice('POST', '/shares/alice/', {}), 400, /exactly one/],
      ['no body', await alice('POST', '/shares/alice/'), 400],
      ['a list body', await alice('POST', '/shares/alice/', []), 400],
      ['unknown keys', await alice('POST', '/shares/alice/', { user: 'bob', expires_in: 60 }), 400],
      ['user not a string', await alice('POST', '/shares/alice/', { user: 7 }), 400],
      ['scopes not a list', await alice('POST', '/shares/alice/', { user: 'bob', scopes: 'access:servers' }), 400],
      ['an unknown scope', await alice('POST', '/shares/alice/', { user: 'bob', scopes: ['nope'] }), 400, /does not exist/],
      ['another server\'s filter', await alice('POST', '/shares/alice/', { user: 'bob', scopes: ['access:servers!server=bob/'] }), 400, /not allowed on sharing/],
      ['a user filter', await alice('POST', '/shares/alice/', { user: 'bob', scopes: ['access:servers!user=alice'] }), 400],
      ['a scope alice lacks', await alice('POST', '/shares/alice/', { user: 'bob', scopes: ['admin:servers'] }), 403, /Do not have permission to grant share with scope admin:servers!server=alice\//],
      ['an unknown user', await alice('POST', '/shares/alice/', { user: 'nobody' }), 400, /No such user: nobody/],
      ['an unknown group', await alice('POST', '/shares/alice/', { group: 'nogroup' }), 400, /No such group: nogroup/],
      ['an unknown server', await alice('POST', '/shares/alice/nope', { user: 'bob' }), 404, /No such server: alice\/nope/],
      ['an unknown owner (admin)', await admin('GET', '/shares/nobody'), 404],
      ['frank cannot look up bob by name', await frank('POST', '/shares/frank/', { user: 'bob' }), 403, /read:users:name/],
      ['frank cannot look up a group by name', await frank('POST', '/shares/frank/', { group: 'class' }), 403, /read:groups:name/],
      ['bob reads carol\'s shared list', await bob('GET', '/users/carol/shared'), 404],
      ['dave reads his group\'s list', await dave('GET', '/groups/class/shared'), 403],
      ['an unknown user\'s list (admin)', await admin('GET', '/users/nobody/shared'), 404],
      ['an unknown group\'s list (admin)', await admin('GET', '/groups/nogroup/shared'), 404],
      ['a share that does not exist', await admin('GET', '/users/bob/shared/nobody/'), 404, /No such share for user bob on nobody\//],
    ];
    for (const [what, res, status, message] of cases) {
      t.equal(res.status, status, `${what}: ${status}`);
      t.equal(res.body?.status, status, `${what}: JSON error body`);
      if (message) t.match(res.body?.message, message, `${what}: message`);
    }
    t.equal((await alice('POST', '/shares/alice', { user: 'bob' })).headers.get('allow'), 'GET', '405 says what is allowed');
    const own = await frank('POST', '/shares/frank/', { user: 'frank' });
    t.equal(own.status, 200, 'frank may name himself (read:users:name on himself)');
  });
});

t.test('share codes: create, list, accept through /hub/accept-share, expire, revoke', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const th = await sharesHub(t);
  const [admin, alice, bob, carol] = [ADMIN, ALICE, BOB, CAROL].map((tok) => client(th, tok));
  const db = th.hub.ctx.db;
  const aliceId = (await db.selectFrom('users').select('id').where('name', '=', 'alice').executeTakeFirstOrThrow()).id;
  await alice('POST', '/users/alice/server');
  await waitFor('alice ready', () => th.hub.ctx.servers.get(aliceId, '')?.ready === true);

  const before = Date.now();
  const created = await alice('POST', '/share-codes/alice/', {});
  t.equal(created.status, 200, 'code created');
  const code = created.body.code as string;
  t.match(code, /^[A-Za-z0-9_-]{40,}$/, 'a long url-safe code');
  t.match(created.body, {
    server: { user: { name: 'alice' }, name: '', url: '/user/alice/', ready: true },
    scopes: [ACCESS], id: /^sc_\d+$/, exchange_count: 0, last_exchanged_at: null, full_accept_url: null,
  });
  t.equal(created.body.accept_url, `/hub/accept-share?code=${code}`, 'accept_url');
  const expires = Date.parse(created.body.expires_at);
  t.ok(Math.abs(expires - before - 86400_000) < 60_000, 'expires in a day by default');
  const stored = await db.selectFrom('share_codes').select('code_hash').execute();
  t.notOk(stored.some((r) => r.code_hash.includes(code)), 'the code is stored hashed');

  const listed = await alice('GET', '/share-codes/alice');
  t.equal(listed.status, 200);
  t.equal(listed.body._pagination.total, 1, 'listed (paginated)');
  t.notOk('code' in listed.body.items[0], 'without the code');
  t.same((await alice('GET', '/share-codes/alice/')).body.items.map((c: any) => c.id), [created.body.id], 'per server too');

  // --- carol accepts ---
  const carolBrowser = new BrowserClient(th.publicUrl);
  await carolBrowser.login('carol');
  const offer = await carolBrowser.get(created.body.accept_url);
  t.equal(offer.status, 200, 'the accept page');
  t.match(offer.text, /<strong>alice<\/strong> is sharing/, 'says who shares');
  t.match(offer.text, /access:servers!server=alice\//, 'and what');
  const rejected = await carolBrowser.request('/hub/accept-share', {
    method: 'POST', body: new URLSearchParams({ code }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(rejected.status, 403, 'accepting without _xsrf is refused');
  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(offer.text)?.[1] ?? '';
  const accepting = await carolBrowser.request('/hub/accept-share', {
    method: 'POST', body: new URLSearchParams({ code, _xsrf: xsrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(accepting.status, 303, 'accepting answers with a redirect');
  t.equal(accepting.headers.get('location'), '/user/alice/', 'to alice\'s server');
  const { confirm: carolConfirm, page: accepted } = await openOthersServer(carolBrowser, '/user/alice/');
  t.equal(new URL(carolConfirm.url).pathname, '/hub/api/oauth2/authorize', 'the server asks carol to authorize it, as for any server not her own');
  t.equal(accepted.status, 200, `carol lands in alice's server (${carolBrowser.hops.slice(-4).join(' | ')})`);
  const status = await carolBrowser.request('/user/alice/api/status');
  t.equal(status.status, 200, 'carol reaches /user/alice/api/status');
  t.ok((await carol('GET', '/user')).body.scopes.includes(ACCESS), 'carol holds the scope');
  t.match((await carol('GET', '/users/carol/shared')).body.items, [{ user: { name: 'carol' }, scopes: [ACCESS] }], 'through a share');
  const after = (await alice('GET', '/share-codes/alice')).body.items[0];
  t.equal(after.exchange_count, 1, 'the exchange is counted');
  t.match(after.last_exchanged_at, ISO, 'and timed');

  // --- refusals on the page ---
  const ownCode = new BrowserClient(th.publicUrl);
  await ownCode.login('alice');
  t.equal((await ownCode.get(created.body.accept_url)).status, 400, 'the owner cannot accept her own code');
  t.equal((await carolBrowser.get('/hub/accept-share?code=not-a-code')).status, 404, 'an unknown code');
  t.equal((await carolBrowser.get('/hub/accept-share')).status, 400, 'no code');
  const anonymous = new BrowserClient(th.publicUrl);
  const loginFirst = await anonymous.request(created.body.accept_url);
  t.equal(loginFirst.status, 302, 'logged-out visitors are sent to log in');
  t.match(loginFirst.headers.get('location') ?? '', /\/hub\/login\?next=%2Fhub%2Faccept-share%3Fcode%3D/, 'and back afterwards');

  const short = await alice('POST', '/share-codes/alice/', { expires_in: 60, scopes: ['read:servers'] });
  t.equal(short.status, 200);
  t.same(short.body.scopes, ['read:servers!server=alice/'], 'explicit scopes are filtered to the server');
  const erin = new BrowserClient(th.publicUrl);
  await erin.login('erin');
  const shortOffer = await erin.get(short.body.accept_url);
  t.equal(shortOffer.status, 200);
  await db.updateTable('share_codes').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', Number(short.body.id.slice(3))).execute();
  const late = await erin.submit(shortOffer, '/hub/accept-share', { code: short.body.code });
  t.equal(late.status, 404, 'an expired code is refused');
  t.match(late.text, /expired/);
  t.equal((await client(th, ADMIN)('GET', '/users/erin/shared')).body._pagination.total, 0, 'and grants nothing');
  t.same((await alice('GET', '/share-codes/alice')).body.items.map((c: any) => c.id), [created.body.id], 'expired codes are not listed');

  // --- validation and permissions ---
  const cases: Array<[string, Res, number, RegExp?]> = [
    ['expires_in too short', await alice('POST', '/share-codes/alice/', { expires_in: 59 }), 400, /expires_in/],
    ['expires_in too long', await alice('POST', '/share-codes/alice/', { expires_in: 525600 * 60 + 1 }), 400],
    ['expires_in not a number', await alice('POST', '/share-codes/alice/', { expires_in: 'soon' }), 400],
    ['expires_in fractional', await alice('POST', '/share-codes/alice/', { expires_in: 3600.5 }), 400],
    ['unknown keys', await alice('POST', '/share-codes/alice/', { user: 'bob' }), 400],
    ['another server\'s filter', await alice('POST', '/share-codes/alice/', { scopes: ['access:servers!server=x/'] }), 400],
    ['a scope alice lacks', await alice('POST', '/share-codes/alice/', { scopes: ['admin:users'] }), 403],
    ['bob creates a code for alice\'s server', await bob('POST', '/share-codes/alice/', {}), 403],
    ['bob lists alice\'s codes', await bob('GET', '/share-codes/alice'), 404],
    ['POST on /share-codes/:owner', await alice('POST', '/share-codes/alice', {}), 405],
    ['DELETE on /share-codes/:owner', await alice('DELETE', '/share-codes/alice'), 405],
    ['an unknown server', await alice('POST', '/share-codes/alice/nope', {}), 404],
    ['delete an unknown id', await alice('DELETE', '/share-codes/alice/?id=sc_999999'), 404, /No code found matching id=sc_999999/],
    ['delete a malformed id', await alice('DELETE', '/share-codes/alice/?id=42'), 404],
    ['delete an unknown code', await alice('DELETE', '/share-codes/alice/?code=wrong'), 404, /No matching code found/],
    ['delete with an empty code', await alice('DELETE', '/share-codes/alice/?code='), 400],
  ];
  for (const [what, res, status, message] of cases) {
    t.equal(res.status, status, `${what}: ${status}`);
    if (message) t.match(res.body?.message, message, `${what}: message`);
  }
  t.equal((await admin('GET', '/share-codes/alice')).body._pagination.total, 1, 'the failed attempts created nothing');

  // --- revoking codes: by code, by id, all ---
  const c2 = (await alice('POST', '/share-codes/alice/', {})).body;
  const c3 = (await alice('POST', '/share-codes/alice/', {})).body;
  t.equal((await alice('DELETE', `/share-codes/alice/?code=${encodeURIComponent(c2.code)}`)).status, 204, 'delete by code');
  t.equal((await alice('DELETE', `/share-codes/alice/?id=${c3.id}`)).status, 204, 'delete by id');
  t.same((await alice('GET', '/share-codes/alice')).body.items.map((c: any) => c.id), [created.body.id], 'only the first is left');
  t.equal((await alice('DELETE', '/share-codes/alice/')).status, 204, 'delete all');
  t.equal((await alice('GET', '/share-codes/alice')).body._pagination.total, 0, 'none left');
  const gone = await carolBrowser.get(created.body.accept_url);
  t.equal(gone.status, 404, 'a deleted code can no longer be accepted');
  t.equal((await carol('GET', '/users/carol/shared')).body._pagination.total, 1, 'shares made from a code outlive the code');
});
