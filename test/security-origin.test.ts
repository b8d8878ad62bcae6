import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { chromium } from 'playwright-core';
import { startAuthHub } from './support/auth-test-hub.js';
import { BrowserClient } from './support/browser-client.js';
import { fakeRedirectAuthenticator } from './support/fake-redirect-authenticator.js';
import { recordingSpawner } from './support/recording-spawner.js';
import { CHROMIUM, hasChromium, need } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

/**
 * Without per-user origins a user's server (/user/NAME/) shares the hub's origin, so its pages could
 * drive the hub API with a visitor's login cookie. As JupyterHub's check_referer, the hub accepts a
 * cookie-authenticated API call only with the Referer of a hub page of the same origin; token calls
 * need none. Cookies are Secure when the browser came over https (X-Forwarded-Proto from the proxy).
 * A provider's error text on the sign-in error page is bounded.
 */

const TOKEN = 'c'.repeat(32);
const MALLORY_PAGE = `<!doctype html><title>tips</title><h1>Cool notebook tips</h1><script>
(async () => {
  const home = await (await fetch('/hub/home')).text();
  const xsrf = (/data-xsrf="([^"]+)"/.exec(home) || /name="_xsrf" value="([^"]+)"/.exec(home) || [])[1] || '';
  const me = await fetch('/hub/api/user', { headers: { 'X-XSRFToken': xsrf } });
  const made = await fetch('/hub/api/users/alice/tokens', {
    method: 'POST', headers: { 'X-XSRFToken': xsrf, 'content-type': 'application/json' }, body: JSON.stringify({ note: 'from-mallory' }),
  });
  await fetch('/user/mallory/collect?xsrf=' + (xsrf ? 1 : 0) + '&me=' + me.status + '&token=' + made.status);
  document.title = 'done';
})();
</script>`;

/** mallory's "server": serves the page above under /user/mallory/ and records what its script reports. */
async function startMalloryServer(t: Test): Promise<{ port: number; reports: URLSearchParams[] }> {
  const reports: URLSearchParams[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/user/mallory/collect') reports.push(url.searchParams);
    res.setHeader('content-type', 'text/html');
    res.end(url.pathname === '/user/mallory/collect' ? 'ok' : MALLORY_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, reports };
}

const mallory = await startMalloryServer(t);
const th = await startTestHub(t, {
  config: {
    hub: { api_tokens: { [TOKEN]: 'alice' }, redirect_to_server: false },
    proxy: { extra_routes: { '/user/mallory/': `http://127.0.0.1:${mallory.port}` } },
  },
});

/** The notes of alice's tokens, read with the configured API token. */
async function tokenNotes(): Promise<string[]> {
  const res = await fetch(`${th.publicUrl}/hub/api/users/alice/tokens`, { headers: { authorization: `token ${TOKEN}` } });
  const body = (await res.json()) as { api_tokens: { note: string | null }[] };
  return body.api_tokens.map((k) => k.note ?? '');
}

/**
 * The status of a GET as a browser sends a navigation (`Sec-Fetch-Mode: navigate`, no Referer):
 * Node's fetch always replaces Sec-Fetch-Mode with `cors`, so this uses node:http.
 */
async function navigate(c: BrowserClient, path: string): Promise<number> {
  const url = c.abs(path);
  const cookie = await c.jar.getCookieString(url);
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { cookie, 'sec-fetch-mode': 'navigate' } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

t.test('cookie API calls need the Referer of a hub page; token calls do not', async (t) => {
  const c = new BrowserClient(th.publicUrl);
  await c.login('alice');
  const home = await c.get('/hub/home');
  t.equal(home.status, 200, 'alice is logged in');
  t.equal(home.headers.get('referrer-policy'), null, 'the hub page sets no Referrer-Policy header that would strip the Referer');
  t.notMatch(home.text, /<meta[^>]+name="?referrer/i, 'nor a referrer meta tag');

  const create = (note: string, referer?: string, extra: Record<string, string> = {}) =>
    c.api('/users/alice/tokens', {
      method: 'POST', body: JSON.stringify({ note }),
      headers: { 'content-type': 'application/json', ...extra, ...(referer === undefined ? {} : { referer }) },
    });
  const ok = await create('from-hub-page');
  t.equal(ok.status, 201, `with the Referer of the hub page it came from (${c.hubReferer()}): 201`);
  t.match(JSON.parse(ok.text), { token: /\w{20,}/ }, 'and a token is created');

  const refused: Array<[string, string]> = [
    ['a page of mallory\'s server', `${th.publicUrl}/user/mallory/tips`],
    ['another origin', 'http://evil.example/hub/home'],
    ['the same host on another port', `http://127.0.0.1:${mallory.port}/hub/home`],
    ['https while the browser uses http', th.publicUrl.replace('http:', 'https:') + '/hub/home'],
    ['a path that only starts like the hub\'s', `${th.publicUrl}/hubx/home`],
    ['a path that leaves the hub prefix', `${th.publicUrl}/hub/../user/mallory/`],
    ['not a URL', 'hub/home'],
    ['an empty Referer', ''],
  ];
  for (const [what, referer] of refused) {
    const res = await create(`from-${what}`, referer);
    t.equal(res.status, 403, `Referer from ${what}: 403`);
    t.same(JSON.parse(res.text), { status: 403, message: 'Missing or invalid credentials.' }, 'as if not logged in');
  }
  {
    // What a script sends when the page's Referrer-Policy is no-referrer: no Referer header at all.
    const res = await c.request('/hub/api/users/alice/tokens', {
      method: 'POST', body: '{"note":"from-nowhere"}', headers: { 'content-type': 'application/json', 'x-xsrftoken': await c.hubXsrf() },
    });
    t.equal(res.status, 403, 'no Referer: 403');
    t.same(JSON.parse(res.text), { status: 403, message: 'Missing or invalid credentials.' }, 'as if not logged in');
  }
  const whoami = await c.api('/user', { headers: { referer: `${th.publicUrl}/user/mallory/` } });
  t.equal(whoami.status, 403, 'a GET from a page outside the hub cannot read who is logged in either');
  t.equal(await navigate(c, '/hub/api/user'), 200, 'opening an API URL in the tab (a navigation, no Referer) still works');
  const viaHttps = await create('from-https-hub-page', th.publicUrl.replace('http:', 'https:') + '/hub/home', { 'x-forwarded-proto': 'https' });
  t.equal(viaHttps.status, 201, 'behind a TLS proxy (X-Forwarded-Proto: https) the https hub page is the right Referer');
  t.same((await tokenNotes()).filter((n) => n.startsWith('from-')).sort(), ['from-https-hub-page', 'from-hub-page'], 'no refused call created a token');

  const byToken = await fetch(`${th.publicUrl}/hub/api/users/alice/tokens`, {
    method: 'POST', body: '{"note":"script"}', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
  });
  t.equal(byToken.status, 201, 'a token call needs no Referer');
});

/** The Set-Cookie headers of a login through the proxy (raw: a cookie jar would hide Secure cookies on http). */
async function loginCookies(extra: Record<string, string>): Promise<string[]> {
  const form = await fetch(`${th.publicUrl}/hub/login`, { headers: extra });
  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(await form.text())?.[1] ?? '';
  const set = form.headers.getSetCookie();
  const cookie = set.map((c) => c.split(';')[0]).join('; ');
  const post = await fetch(`${th.publicUrl}/hub/login`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ username: 'bob', password: 'x', _xsrf: xsrf }),
    headers: { ...extra, cookie, 'content-type': 'application/x-www-form-urlencoded' },
  });
  return [...set, ...post.headers.getSetCookie()];
}

t.test('cookies are Secure when the browser came over https', async (t) => {
  const named = (cookies: string[], name: string) => cookies.find((c) => c.startsWith(`${name}=`)) ?? '';
  const https = await loginCookies({ 'x-forwarded-proto': 'https' });
  t.match(named(https, 'jupyterhub-hub-login'), /; Secure/i, 'X-Forwarded-Proto: https: the login cookie is Secure');
  t.match(named(https, '_xsrf'), /; Secure/i, 'and so is the xsrf cookie');
  const plain = await loginCookies({});
  t.ok(named(plain, 'jupyterhub-hub-login'), 'plain http logs in too');
  t.notMatch(named(plain, 'jupyterhub-hub-login'), /Secure/i, 'without Secure on the login cookie (the browser would drop it)');
  t.notMatch(named(plain, '_xsrf'), /Secure/i, 'nor on the xsrf cookie');
});

t.test('a page served under /user/mallory/ cannot act as the visitor (real browser)', async (t) => {
  if (!need(t, hasChromium(), 'chromium (apt-get install chromium; scripts/install-system-deps.sh)')) return;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${th.publicUrl}/hub/login`);
  await page.fill('#username_input', 'alice');
  await Promise.all([page.waitForURL(/\/hub\/home$/), page.click('#login_submit')]);
  t.pass('alice logs in and is on her home page');

  const before = await tokenNotes();
  await page.goto(`${th.publicUrl}/user/mallory/tips`);
  // Page code as strings: the tests are compiled without the DOM library.
  await page.waitForFunction('document.title === "done"', null, { timeout: 10_000 });
  const report = mallory.reports.at(-1);
  t.equal(report?.get('xsrf'), '1', 'mallory\'s page could read the hub home page (same origin)');
  t.equal(report?.get('me'), '403', 'but GET /hub/api/user with alice\'s cookie is refused');
  t.equal(report?.get('token'), '403', 'and so is creating a token for alice');
  t.same(await tokenNotes(), before, 'alice has no new token');

  // The same call from the hub's own page, in the same browser, still works.
  await page.goto(`${th.publicUrl}/hub/home`);
  const status = await page.evaluate<number>(`fetch('/hub/api/users/alice/tokens', {
    method: 'POST', body: '{"note":"from-home"}',
    headers: { 'X-XSRFToken': document.getElementById('home').dataset.xsrf, 'content-type': 'application/json' },
  }).then((res) => res.status)`);
  t.equal(status, 201, 'from /hub/home the browser\'s call succeeds');
});

t.test('a provider\'s error_description is shown cut to 300 characters', async (t) => {
  const { plugin } = fakeRedirectAuthenticator();
  const h = await startAuthHub(t, { authenticators: [plugin], spawners: [recordingSpawner().plugin], authenticator: { kind: 'fake-redirect', allow_all: true } });
  const description = 'A'.repeat(300) + 'B'.repeat(5000);
  const res = await fetch(`${h.publicUrl}/hub/oauth_callback?${new URLSearchParams({ error: 'access_denied', error_description: description })}`);
  const text = await res.text();
  t.equal(res.status, 403, 'the refusal page');
  t.match(text, `refused at the identity provider: ${'A'.repeat(300)}`, 'shows the first 300 characters');
  t.notMatch(text, /AB|B{10}/, 'and nothing after them');
});
