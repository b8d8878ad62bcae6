import t, { type Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * Findings 3-6 of security review r1, black-box: server OAuth client ids that collide
 * (`alice-x`'s default server and alice's server `x`), the consent page for someone else's server,
 * /hub/user/... redirects that keep the request's encoding, and frame-ancestors on every page.
 */

const ADMIN = 'a'.repeat(32);
const SELF_FRAMES = "frame-ancestors 'self'";

const unescapeHtml = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The hidden fields of the OAuth confirmation form. */
function hiddenFields(page: Page): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of page.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1]!] = unescapeHtml(m[2]!);
  return out;
}

function api(th: TestHub, token: string) {
  return async (method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${th.publicUrl}/hub/api${p}`, {
      method, headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

async function until(t: Test, what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  t.pass(what);
}

t.test('security review r1, findings 3-6', async (t) => {
  const th = await startTestHub(t, {
    config: {
      hub: { allow_named_servers: true, redirect_to_server: false, api_tokens: { [ADMIN]: 'root' } },
      authenticator: { admin_users: ['root'] },
    },
  });

  await t.test('every page forbids framing by other sites; /hub/user/ keeps the escapes of the path', async (t) => {
    const anon = new BrowserClient(th.publicUrl);
    const login = await anon.get('/hub/login');
    t.equal(login.status, 200);
    t.equal(login.headers.get('content-security-policy'), SELF_FRAMES, 'the login page may only be framed by the hub');
    const alice = new BrowserClient(th.publicUrl);
    await alice.login('alice');
    for (const path of ['/hub/home', '/hub/token', '/hub/error/404', '/hub/nowhere']) {
      const page = await alice.request(path);
      t.match(page.headers.get('content-type'), /^text\/html/, `${path} is HTML (${page.status})`);
      t.equal(page.headers.get('content-security-policy'), SELF_FRAMES, `${path} sends frame-ancestors 'self'`);
    }

    // Her server is not running: the not-running page links to the spawn page with the path as sent.
    const escaped = await alice.request('/hub/user/alice/a%3Fb/c%20d');
    t.equal(escaped.status, 424, 'the not-running page');
    t.equal(escaped.headers.get('content-security-policy'), SELF_FRAMES, 'which cannot be framed either');
    const spawnHref = unescapeHtml(/href="([^"]*\/hub\/spawn\/alice[^"]*)"/.exec(escaped.text)?.[1] ?? '');
    t.equal(new URL(spawnHref, th.publicUrl).searchParams.get('next'), '/user/alice/a%3Fb/c%20d', 'the spawn link keeps a%3Fb one segment');
    for (const path of ['/hub/user/alice/%0A%0Dx', '/hub/user/alice/%E2%82%AC']) t.equal((await alice.request(path)).status, 424, `${path}: the not-running page`);
    const nul = await alice.request('/hub/user/alice/%00');
    t.ok(nul.status >= 400 && nul.status < 500, `a NUL in the path is the visitor's error (${nul.status}), not a 500`);

    // A broken escape never reaches a route: fastify refuses it, in the hub's shapes (at the hub itself;
    // configurable-http-proxy fails on such paths before the hub sees them, as it does for JupyterHub).
    const badPage = await fetch(`${th.hubUrl}/hub/user/alice/%C3`);
    t.equal(badPage.status, 400, 'a path with a broken escape is a 400');
    t.match(await badPage.text(), /Malformed URL/);
    const badApi = await fetch(`${th.hubUrl}/hub/api/users/%C3`);
    t.same([badApi.status, await badApi.json()], [400, { status: 400, message: 'Malformed URL: the path has an invalid escape sequence.' }], 'the API answers JupyterHub-shaped JSON');

    const redirect = await alice.request('/hub/user-redirect/a%3Fb/%0Ax?y=1');
    t.equal(redirect.status, 302);
    const next = new URL(redirect.headers.get('location') ?? '', th.publicUrl).searchParams.get('next');
    t.equal(next, '/user/alice/a%3Fb/%0Ax?y=1', '/hub/user-redirect/ keeps the escapes too');
  });

  await t.test('servers whose client ids collide, and consent for someone else\'s server', async (t) => {
    if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
    const admin = api(th, ADMIN);
    t.equal((await admin('POST', '/users', { usernames: ['alice-x', 'bob'] })).status, 201);

    // alice-x's default server and alice's server "x" would both be jupyterhub-user-alice-x.
    t.match((await admin('POST', '/users/alice-x/server')).status, /^20[12]$/, 'alice-x starts her default server');
    t.match((await admin('POST', '/users/alice/servers/x')).status, /^20[12]$/, 'alice starts her server x');
    const ready = async (user: string, server: string) => (await admin('GET', `/users/${user}`)).body?.servers?.[server]?.ready === true;
    await until(t, 'both servers are ready', 30_000, async () => (await ready('alice-x', '')) && (await ready('alice', 'x')));
    const clients = await th.hub.ctx.db.selectFrom('oauth_clients').select('identifier').where('spawner_id', 'is not', null).orderBy('id').execute();
    t.equal(clients.length, 2, 'each server has its own OAuth client');
    t.equal(clients[0]?.identifier, 'jupyterhub-user-alice-x', 'the first keeps JupyterHub\'s id');
    t.match(clients[1]?.identifier, /^jupyterhub-user-alice-x!\d+$/, 'the second gets a suffix no ordinary id can have');

    const ax = new BrowserClient(th.publicUrl);
    await ax.login('alice-x');
    const axServer = await ax.get('/user/alice-x/');
    t.equal(axServer.status, 200, `alice-x reaches her server (${ax.hops.slice(-4).join(' | ')})`);
    t.match(new URL(axServer.url).pathname, /^\/user\/alice-x\//);
    t.match(ax.hops.join(' | '), /\/hub\/api\/oauth2\/authorize/, 'through the hub\'s OAuth');
    const a = new BrowserClient(th.publicUrl);
    await a.login('alice');
    const aServer = await a.get('/user/alice/x/');
    t.equal(aServer.status, 200, `alice reaches her server x without a consent page (${a.hops.slice(-4).join(' | ')})`);
    t.match(new URL(aServer.url).pathname, /^\/user\/alice\/x\//);
    t.equal((await a.request('/user/alice/x/api/status')).status, 200, 'and its API with the cookie named after the suffixed id');

    await t.test('/hub/user/ redirects to a running server keep the request\'s escapes', async (t) => {
      const cases = [
        ['/hub/user/alice-x/a%3Fb', '/user/alice-x/a%3Fb?redirects=1'],
        ['/hub/user/alice-x/%0A%0Dx/y%2Fz?q=%3F', '/user/alice-x/%0A%0Dx/y%2Fz?q=%3F&redirects=1'],
        ['/hub//user/alice-x/a%3Fb', '/user/alice-x/a%3Fb?redirects=1'],
      ] as const;
      for (const [path, want] of cases) {
        const res = await ax.request(path);
        t.equal(res.status, 302, `${path}: a redirect, not a 500`);
        t.equal(res.headers.get('location'), want);
      }
    });

    await t.test('a server that is not yours asks first (JupyterHub needs_oauth_confirm)', async (t) => {
      t.equal((await admin('POST', '/shares/alice/x', { user: 'bob' })).status, 200, 'x is shared with bob');
      const bob = new BrowserClient(th.publicUrl);
      await bob.login('bob');
      const confirm = await bob.get('/user/alice/x/');
      t.equal(confirm.status, 200);
      t.equal(new URL(confirm.url).pathname, '/hub/api/oauth2/authorize', 'bob is shown the confirmation page');
      t.match(confirm.text, /The server <strong>alice\/x<\/strong> of <strong>alice<\/strong> would like to know your identity/);
      t.match(confirm.text, /belongs to alice, not to you/);
      t.match(confirm.headers.get('content-security-policy'), /frame-ancestors 'none'/, 'the consent page cannot be framed at all');
      t.not((await bob.request('/user/alice/x/api/status')).status, 200, 'no access before he agrees');
      const fields = hiddenFields(confirm);
      t.equal(fields.client_id, clients[1]?.identifier);
      const forged = await bob.request('/hub/api/oauth2/authorize', {
        method: 'POST', body: new URLSearchParams({ ...fields, _xsrf: 'forged' }), headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      t.equal(forged.status, 403, 'the form needs the right _xsrf');
      const { _xsrf, ...rest } = fields;
      const done = await bob.submit(confirm, '/hub/api/oauth2/authorize', rest);
      t.equal(done.status, 200, `authorized: ${bob.hops.slice(-4).join(' | ')}`);
      t.match(new URL(done.url).pathname, /^\/user\/alice\/x\//, 'then he is in alice\'s server');
      t.equal((await bob.request('/user/alice/x/api/status')).status, 200, 'with API access');

      const bobAgain = new BrowserClient(th.publicUrl);
      await bobAgain.login('bob');
      const second = await bobAgain.get('/user/alice/x/');
      t.match(new URL(second.url).pathname, /^\/user\/alice\/x\//, 'a later login is not asked again');

      const root = new BrowserClient(th.publicUrl);
      await root.login('root');
      const adminVisit = await root.get('/user/alice-x/');
      t.equal(new URL(adminVisit.url).pathname, '/hub/api/oauth2/authorize', 'an admin opening a user\'s server is asked too');
      t.match(adminVisit.text, /The server <strong>alice-x\/<\/strong> of <strong>alice-x<\/strong>/);
    });

    await t.test('logout drops the cookie of a server whose client id carries the suffix', async (t) => {
      const out = await a.request('/hub/logout');
      const cleared = out.headers.getSetCookie().filter((c) => c.startsWith(`${clients[1]!.identifier}=;`));
      t.equal(cleared.length, 1, `the ${clients[1]!.identifier} cookie is cleared`);
      t.match(cleared[0], /Path=\/user\/alice\/x\//, 'on the server x path');
      t.not((await a.request('/user/alice/x/api/status')).status, 200, 'and the server no longer lets her in without a new login');
    });

    await t.test('stopping one server leaves the other\'s OAuth client alone', async (t) => {
      t.match((await admin('DELETE', '/users/alice/servers/x')).status, /^20[24]$/, 'alice\'s x is stopped');
      await until(t, 'alice\'s x is gone', 10_000, async () => (await admin('GET', '/users/alice')).body?.servers?.x === undefined);
      const left = await th.hub.ctx.db.selectFrom('oauth_clients').select('identifier').where('spawner_id', 'is not', null).execute();
      t.same(left.map((c) => c.identifier), ['jupyterhub-user-alice-x'], 'only the stopped server\'s client is gone');
      t.equal((await ax.request('/user/alice-x/api/status')).status, 200, 'alice-x\'s open tab keeps working');
      const fresh = new BrowserClient(th.publicUrl);
      await fresh.login('alice-x');
      const again = await fresh.get('/user/alice-x/');
      t.equal(again.status, 200, `a new login of alice-x still goes through OAuth (${fresh.hops.slice(-3).join(' | ')})`);
      t.match(new URL(again.url).pathname, /^\/user\/alice-x\//);
    });
  });
});
