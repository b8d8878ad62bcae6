import t from 'tap';
import { BrowserClient } from './browser-client.js';
import { executeOnKernel } from './kernel-client.js';
import { hasIpykernel, hasSingleuser, need, postgresUrl } from './requirements.js';
import { startTestHub, type DbKind } from './test-hub.js';

/**
 * Acceptance of the foundation issue, on one database kind: a student logs in through the form, is
 * taken through spawn and spawn-pending to their running jupyterhub-singleuser, finishes the OAuth
 * handshake, uses the contents API and a kernel through the proxy; another student cannot get in;
 * logout ends the session.
 */
export function studentFlowSuite(db: DbKind): void {
  t.test(`student flow on ${db}`, async (t) => {
    if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
    if (db === 'postgres' && !need(t, postgresUrl() !== '', 'Postgres (set TSHUB_TEST_POSTGRES_URL)')) return;
    const th = await startTestHub(t, { db });
    const alice = new BrowserClient(th.publicUrl);

    const landed = await alice.login('alice');
    t.equal(landed.status, 200, 'alice ends on a page with 200');
    t.match(new URL(landed.url).pathname, /^\/user\/alice\//, 'alice lands in her own server');
    const hops = alice.hops.join(' | ');
    t.match(hops, /\/hub\/login/, 'went through the login page');
    t.match(hops, /\/hub\/spawn/, 'went through spawn');
    t.match(hops, /\/hub\/api\/oauth2\/authorize/, 'the server sent her through the hub OAuth authorize endpoint');
    t.match(hops, /\/user\/alice\/oauth_callback/, 'and back to its OAuth callback');

    const status = await alice.request('/user/alice/api/status');
    t.equal(status.status, 200, '/user/alice/api/status through the proxy');
    t.match(JSON.parse(status.text), { kernels: Number }, 'status is the server\'s JSON');
    const contents = await alice.request('/user/alice/api/contents');
    t.equal(contents.status, 200, '/user/alice/api/contents through the proxy');
    t.match(JSON.parse(contents.text), { type: 'directory' });

    t.test('a second student gets no access to the first one\'s server', async (t) => {
      const bob = new BrowserClient(th.publicUrl);
      await bob.login('bob');
      for (const path of ['/user/alice/api/status', '/user/alice/api/contents', '/user/alice/tree']) {
        const page = await bob.get(path);
        t.not(page.status, 200, `bob gets no 200 for ${path} (got ${page.status})`);
        t.notMatch(page.text, /"kernels"|"type": ?"directory"/, 'and sees none of alice\'s data');
      }
      // Alice's own cookies for her server do not leak into bob's jar; even handing bob a copy of the
      // hub login cookie would be needed to impersonate her.
      t.equal(await bob.cookieValue('jupyterhub-user-alice', '/user/alice/'), undefined, 'bob holds no cookie for alice\'s server');
    });

    t.test('a kernel runs code over its websocket through the proxy', async (t) => {
      if (!need(t, hasIpykernel(), 'python3-ipykernel')) return;
      const xsrf = await alice.cookieValue('_xsrf', '/user/alice/');
      const started = await alice.request('/user/alice/api/kernels', {
        method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...(xsrf ? { 'x-xsrftoken': xsrf } : {}) },
      });
      t.equal(started.status, 201, `kernel started (${started.text.slice(0, 200)})`);
      const kernel = JSON.parse(started.text) as { id: string };
      const wsUrl = th.publicUrl.replace(/^http/, 'ws') + `/user/alice/api/kernels/${kernel.id}/channels`;
      const cookie = await alice.jar.getCookieString(alice.abs(`/user/alice/api/kernels/${kernel.id}/channels`));
      const out = await executeOnKernel(wsUrl, { cookie }, 'print(6 * 7)');
      t.equal(out.trim(), '42', 'the kernel printed 42');
      const del = await alice.request(`/user/alice/api/kernels/${kernel.id}`, { method: 'DELETE', headers: xsrf ? { 'x-xsrftoken': xsrf } : {} });
      t.equal(del.status, 204, 'kernel shut down');
    });

    t.test('logout ends the session', async (t) => {
      const before = await alice.api('/user');
      t.equal(before.status, 200, 'the hub API knows her cookie before logout');
      t.equal(JSON.parse(before.text).name, 'alice');
      const home = await alice.get('/hub/home');
      t.equal(home.status, 200, 'home page while logged in');
      t.match(home.text, /alice/);
      await alice.get('/hub/logout');
      const after = await alice.get('/hub/home');
      t.match(new URL(after.url).pathname, /\/hub\/login$/, 'after logout, the hub asks for a login again');
      const api = await alice.api('/user');
      t.equal(api.status, 403, 'and the API no longer knows her cookie');
      t.equal(JSON.parse(api.text).message, 'Missing or invalid credentials.');
      const server = await alice.get('/user/alice/api/contents');
      t.equal(await alice.cookieValue('jupyterhub-user-alice', '/user/alice/'), undefined, 'logout also dropped her server cookie');
      t.equal(server.status, 403, 'so her server refuses her API calls until she logs in again');
      t.notMatch(server.text, /"type": ?"directory"/, 'instead of showing her files');
    });
  });
}
