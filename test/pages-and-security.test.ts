import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

const TOKEN = 'b'.repeat(32);

t.test('login form: xsrf, next and wrong passwords', async (t) => {
  const th = await startTestHub(t, { config: { authenticator: { kind: 'dummy', password: 'classpass', allow_all: true } } });
  const c = new BrowserClient(th.publicUrl);
  const form = await c.get('/hub/login');
  t.equal(form.status, 200);
  t.match(form.headers.get('x-jupyterhub-version'), /^\d+\.\d+/, 'every response carries X-JupyterHub-Version');

  const noXsrf = await c.request('/hub/login', { method: 'POST', body: new URLSearchParams({ username: 'eve', password: 'classpass' }) });
  t.equal(noXsrf.status, 403, 'a login post without _xsrf is refused');
  t.match(noXsrf.text, /Login form invalid or expired/);
  t.equal(await c.cookieValue('jupyterhub-hub-login', '/hub/'), undefined, 'and sets no login cookie');

  const wrong = await c.submit(form, '/hub/login', { username: 'eve', password: 'nope' });
  t.equal(wrong.status, 403, 'a wrong password gets 403');
  t.match(wrong.text, /Invalid username or password/);

  const evil = await c.submit(await c.get('/hub/login'), '/hub/login?next=' + encodeURIComponent('//evil.example/x'), { username: 'eve', password: 'classpass' });
  t.notMatch(evil.url, /evil\.example/, 'next pointing off-site is ignored');
  t.match(new URL(evil.url).origin, th.publicUrl, 'the student stays on the hub');
  const cookie = (await c.jar.getCookies(c.abs('/hub/'))).find((k) => k.key === 'jupyterhub-hub-login');
  t.ok(cookie?.httpOnly, 'the login cookie is HttpOnly');
  t.match(cookie?.value, /\./, 'and signed');

  const c2 = new BrowserClient(th.publicUrl);
  const f2 = await c2.get('/hub/login');
  const res = await c2.request('/hub/login?next=%2Fhub%2Fhome', {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'Fred ', password: 'classpass', _xsrf: /name="_xsrf" value="([^"]*)"/.exec(f2.text)![1]! }),
  });
  t.equal(res.headers.get('location'), '/hub/home', 'a local next is honoured');
  const me = await c2.api('/user');
  t.equal(me.status, 200, 'whoami with the new cookie: ' + me.text.slice(0, 200));
  t.equal(JSON.parse(me.text).name, 'fred', 'usernames are normalised (trimmed, lower-case)');

  const tampered = new BrowserClient(th.publicUrl);
  await tampered.jar.setCookie(`jupyterhub-hub-login=${encodeURIComponent(cookie!.value.replace(/^./, 'x'))}; Path=/hub/`, c.abs('/hub/'));
  t.equal((await tampered.request('/hub/api/user')).status, 403, 'a tampered login cookie is worthless');
});

t.test('cookie-authenticated API calls need the xsrf token; token calls do not', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: 'alice' } } } });
  const c = new BrowserClient(th.publicUrl);
  await c.submit(await c.get('/hub/login'), '/hub/login?next=%2Fhub%2Fhome', { username: 'alice', password: 'x' });
  const post = await c.request('/hub/api/users/alice/activity', {
    method: 'POST', headers: { 'content-type': 'application/json', 'sec-fetch-mode': 'cors', referer: c.hubReferer() }, body: JSON.stringify({ last_activity: new Date().toISOString() }),
  });
  t.equal(post.status, 403, 'a cookie POST without X-XSRFToken is refused');
  t.match(JSON.parse(post.text), { status: 403, message: /_xsrf/ });
  const withToken = await fetch(`${th.publicUrl}/hub/api/users/alice/activity`, {
    method: 'POST', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ last_activity: new Date().toISOString() }),
  });
  t.equal(withToken.status, 200, 'the same call with a token needs no xsrf');
  const noCreds = await fetch(`${th.publicUrl}/hub/api/user`);
  t.equal(noCreds.status, 403);
  t.same(await noCreds.json(), { status: 403, message: 'Missing or invalid credentials.' }, 'JupyterHub\'s 403 for no credentials');
  const unknown = await fetch(`${th.publicUrl}/hub/api/no/such/thing`);
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { status: 404 }, 'unknown API paths answer JSON');
  const badJson = await fetch(`${th.publicUrl}/hub/api/users/alice/activity`, { method: 'POST', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body: '{nope' });
  t.same(await badJson.json(), { status: 400, message: 'Invalid JSON in body of request' }, 'bad JSON is a 400, not a 500');
  const future = await fetch(`${th.publicUrl}/hub/api/users/alice/activity`, {
    method: 'POST', headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ last_activity: new Date(Date.now() + 3 * 3600_000).toISOString() }),
  });
  t.equal(future.status, 400, 'activity far in the future is refused');
});

t.test('server pages: not running, user-redirect, progress stream, death noticed by polling', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: 'alice' }, redirect_to_server: false }, spawner: { poll_interval: 0.3 } } });
  const c = new BrowserClient(th.publicUrl);
  await c.submit(await c.get('/hub/login'), '/hub/login', { username: 'alice', password: 'x' });

  const notRunning = await c.get('/user/alice/notebooks/x.ipynb');
  t.equal(notRunning.status, 424, 'a stopped server\'s URL shows the not-running page (424), not a loop');
  t.match(notRunning.text, /Launch Server/);
  const json = await c.request('/hub/user/alice/api/contents', { headers: { accept: 'application/json' } });
  t.equal(json.status, 424);
  t.match(JSON.parse(json.text), { message: /no longer running/ }, 'API paths get JSON');

  const api = (path: string, init: RequestInit = {}) => fetch(`${th.publicUrl}/hub/api${path}`, { ...init, headers: { authorization: `token ${TOKEN}`, ...(init.headers ?? {}) } });
  const post = await api('/users/alice/server', { method: 'POST' });
  t.ok([201, 202].includes(post.status), `POST server answers ${post.status}`);
  const progress = await api('/users/alice/server/progress');
  t.equal(progress.headers.get('content-type'), 'text/event-stream');
  const events = (await progress.text()).split('\n\n').filter((s) => s.startsWith('data: ')).map((s) => JSON.parse(s.slice(6)));
  t.match(events.at(-1), { progress: 100, ready: true, url: '/user/alice/' }, 'the stream ends with the ready event');

  const redirected = await c.get('/user-redirect/tree?foo=bar&x=1');
  t.match(redirected.url, /\/user\/alice\/tree\/?\?foo=bar&x=1$/, 'user-redirect lands in the user\'s server and keeps the query string');

  const rt = [...th.hub.ctx.servers.all].find((r) => r.userName === 'alice');
  const pid = rt?.spawner?.state().pid as number;
  process.kill(-pid, 'SIGKILL');
  let gone = false;
  let model: { servers?: object } = {};
  for (let i = 0; i < 60 && !(gone && Object.keys(model.servers ?? { x: 1 }).length === 0); i++) {
    await new Promise((r) => setTimeout(r, 100));
    gone = !(await th.hub.ctx.routes.client.getRoutes()).has('/user/alice/');
    model = (await (await api('/users/alice')).json()) as { servers: object };
  }
  t.ok(gone, 'a server that died is noticed by polling and its route removed');
  t.same(model.servers, {}, 'and the API shows it stopped');
  const again = await c.get('/user/alice/tree');
  t.equal(again.status, 424, 'its URL offers to start it again');
});
