// hub.subdomain_host (JupyterHub.subdomain_host): every user's server on its own host, so a page it
// serves is cross-origin to the hub. A real hub, configurable-http-proxy with --host-routing and
// Debian's jupyterhub-singleuser. Node cannot resolve *.localhost here, so BrowserClient connects to
// 127.0.0.1 and sends the host in the Host header (as wildcard DNS would); chromium, when present,
// resolves *.localhost to loopback by itself and shows the same flow in a real browser.
import t from 'tap';
import { chromium } from 'playwright-core';
import { BrowserClient } from './support/browser-client.js';
import { freePort } from './support/free-port.js';
import { CHROMIUM, hasChromium, hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

const asRoot = process.geteuid?.() === 0;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

t.test('subdomain_host: each user server on its own host', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const port = await freePort();
  const hubOrigin = `http://hub.localhost:${port}`;
  const aliceOrigin = `http://alice.hub.localhost:${port}`;
  const th: TestHub = await startTestHub(t, {
    config: { hub: { bind_url: `http://127.0.0.1:${port}`, subdomain_host: hubOrigin }, spawner: { args: asRoot ? ['--allow-root'] : [] } },
  });
  const client = () => new BrowserClient(hubOrigin, { connectTo: '127.0.0.1' });
  const alice = client();

  const landed = await alice.login('alice');
  t.equal(landed.status, 200, `the student flow ends on a page (${alice.hops.join(' -> ')})`);
  t.match(landed.url, `${aliceOrigin}/user/alice/`, "and that page is on alice's own host");
  t.ok(alice.hops.some((h) => h.includes('/hub/api/oauth2/authorize')), "her server sent her to the hub's host to authorize (JUPYTERHUB_HOST)");
  const status = await alice.request(`${aliceOrigin}/user/alice/api/status`);
  t.equal(status.status, 200, 'api/status answers on her host with the cookie her server set');
  t.ok(await alice.cookieValue('jupyterhub-user-alice', `${aliceOrigin}/user/alice/`), "her server's cookie is on her host");
  t.notOk(await alice.cookieValue('jupyterhub-hub-login', `${aliceOrigin}/hub/`), "the hub's login cookie is not sent to her host");
  t.ok(await alice.cookieValue('jupyterhub-hub-login', `${hubOrigin}/hub/`), "it stays on the hub's host");

  await t.test('routes, API model and env name her host', async (t) => {
    const routes = await th.hub.ctx.routes.client.getRoutes();
    t.ok(routes.has('alice.hub.localhost/user/alice/'), `the proxy routes alice.hub.localhost/user/alice/ (${[...routes.keys()].join(', ')})`);
    t.match(routes.get('/')?.data, { hub: true }, "the hub keeps '/', the catch-all for every host");
    const me = await alice.api('/user');
    t.equal(me.status, 200, 'a cookie API call from a hub page works');
    const model = JSON.parse(me.text) as { server: string; servers: Record<string, { url: string; full_url: string; full_progress_url: string }> };
    t.equal(model.server, `${aliceOrigin}/user/alice/`, 'the user model names her server by its absolute URL');
    t.equal(model.servers['']?.url, `${aliceOrigin}/user/alice/`);
    t.equal(model.servers['']?.full_url, `${aliceOrigin}/user/alice/`);
    t.equal(model.servers['']?.full_progress_url, `${hubOrigin}/hub/api/users/alice/server/progress`);
    const oauthClient = await th.hub.ctx.db.selectFrom('oauth_clients').select('redirect_uri').where('identifier', '=', 'jupyterhub-user-alice').executeTakeFirstOrThrow();
    t.equal(oauthClient.redirect_uri, `${aliceOrigin}/user/alice/oauth_callback`, "her server's OAuth client redirects to her host");
    const home = await alice.get('/hub/home');
    t.ok(home.text.includes(`${aliceOrigin}/user/alice/`), 'the home page links to her host');
    const viaHub = await alice.request('/hub/user/alice/tree');
    t.equal(viaHub.headers.get('location'), `${aliceOrigin}/user/alice/tree?redirects=1`, '/hub/user/alice/... redirects to her host');
  });

  await t.test("the hub refuses her server's origin", async (t) => {
    const fromServer = await alice.api('/user', { headers: { referer: `${aliceOrigin}/user/alice/tree` } });
    t.equal(fromServer.status, 403, "a cookie API call to the hub from a page of her server's host is refused");
    const onHerHost = await alice.request(`${aliceOrigin}/hub/api/user`, { headers: { referer: `${aliceOrigin}/user/alice/tree` } });
    t.equal(onHerHost.status, 403, 'the hub API does not answer on her host at all');
    t.match(JSON.parse(onHerHost.text), { status: 403, message: /answers at http:\/\/hub\.localhost/ });
    const page = await alice.request(`${aliceOrigin}/hub/home`);
    t.equal(page.headers.get('location'), `${hubOrigin}/hub/home`, 'a hub page asked for on her host redirects to the hub host');
  });

  await t.test('next= may name her host, never another one', async (t) => {
    const ok = await alice.request(`/hub/spawn?next=${encodeURIComponent(`${aliceOrigin}/user/alice/tree`)}`);
    t.equal(ok.headers.get('location'), `${aliceOrigin}/user/alice/tree`, 'next to her host is followed');
    for (const evil of ['http://evil.example/', `http://alice.hub.localhost.evil.example:${port}/`, `http://evil.localhost:${port}/`, `https://alice.hub.localhost:${port}/`, `//evil.example/`]) {
      const res = await alice.request(`/hub/login?next=${encodeURIComponent(evil)}`);
      const loc = res.headers.get('location') ?? '';
      t.notOk(loc.includes('evil') || loc.startsWith('https:'), `next=${evil} is refused (went to ${loc})`);
    }
  });

  await t.test("bob cannot reach alice's server", async (t) => {
    const bob = client();
    const form = await bob.get('/hub/login');
    await bob.submit(form, '/hub/login?next=%2Fhub%2Fhome', { username: 'bob', password: 'any' });
    const page = await bob.get(`${aliceOrigin}/user/alice/tree`);
    t.equal(page.status, 403, `bob is refused (${bob.hops.slice(-3).join(' -> ')})`);
    t.notOk(page.url.startsWith(aliceOrigin), 'on the hub, not on a page of alice\'s server');
    const api = await bob.request(`${aliceOrigin}/user/alice/api/contents`);
    t.not(api.status, 200, `alice's server API refuses him (${api.status})`);
  });

  await t.test('in a real browser', async (t) => {
    if (!need(t, hasChromium(), 'chromium (apt-get install chromium; scripts/install-system-deps.sh)')) return;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    t.teardown(() => browser.close());
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${hubOrigin}/`);
    t.match(page.url(), `${hubOrigin}/hub/login`, 'the class URL on the hub host shows the login page');
    await page.fill('#username_input', 'alice');
    await page.click('#login_submit');
    await page.waitForURL(`${aliceOrigin}/user/alice/tree**`, { timeout: 60_000 });
    t.pass(`the browser lands on ${new URL(page.url()).origin}${new URL(page.url()).pathname}`);
    const answers = await page.evaluate(async (hub) => {
      const status = (await fetch('/user/alice/api/status')).status;
      const sameHostApi = (await fetch('/hub/api/user')).status;
      // Cross-origin, so the browser hides the answer (no CORS): the call fails for the script.
      const hubApi = await fetch(`${hub}/hub/api/user`, { credentials: 'include' }).then((r) => r.status, () => 'blocked');
      return { status, sameHostApi, hubApi };
    }, hubOrigin);
    t.same(answers, { status: 200, sameHostApi: 403, hubApi: 'blocked' }, `her page's scripts reach her server, not the hub's API (${JSON.stringify(answers)})`);
  });

  await t.test('a stopped server: her host leads back to the hub', async (t) => {
    const rt = [...th.hub.ctx.servers.all].find((r) => r.userName === 'alice')!;
    await th.hub.ctx.servers.stop(rt, { now: true });
    t.notOk((await th.hub.ctx.routes.client.getRoutes()).has('alice.hub.localhost/user/alice/'), 'her route is gone from the proxy');
    const page = await alice.get(`${aliceOrigin}/user/alice/tree`);
    t.equal(page.status, 424, `the "not running" page (${alice.hops.slice(-3).join(' -> ')})`);
    t.equal(new URL(page.url).origin, hubOrigin, "served on the hub's host");
    t.ok(page.text.includes(encodeURIComponent(`${aliceOrigin}/user/alice/tree`)), 'its start link comes back to her host');
  });
});
