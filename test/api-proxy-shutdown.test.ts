import t from 'tap';
import { portInUse } from './support/free-port.js';
import { startTestHub } from './support/test-hub.js';

const ADMIN = 'd'.repeat(32);
const USER = 'e'.repeat(32);

t.test('proxy API: read the table, reconcile, re-point', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root', [USER]: 'alice' } }, authenticator: { admin_users: ['root'] } } });
  // Straight to the hub: this test takes the proxy's hub route away.
  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${th.hubUrl}/hub/api${path}`, { ...init, headers: { authorization: `token ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  const denied = await api('/proxy', USER);
  t.equal(denied.status, 403, 'a plain user may not read the proxy table');
  const table = (await (await api('/proxy', ADMIN)).json()) as Record<string, { routespec: string; target: string; data: Record<string, unknown> }>;
  t.match(table['/'], { routespec: '/', target: th.hubUrl, data: { hub: true } }, 'the hub route, keyed by routespec');

  // A route the hub does not want is removed by POST /proxy (check_routes); a missing hub route is re-added.
  await th.hub.ctx.routes.client.addRoute('/stray/', 'http://127.0.0.1:9', { user: 'ghost', server_name: '' });
  await th.hub.ctx.routes.client.deleteRoute('/');
  const post = await api('/proxy', ADMIN, { method: 'POST' });
  t.equal(post.status, 200, await post.text());
  const after = await th.hub.ctx.routes.client.getRoutes();
  t.notOk(after.has('/stray/'), 'the stray jupyterhub route is gone');
  t.ok(after.has('/'), 'the hub route is back');

  const paged = (await (await api('/proxy?limit=1', ADMIN, { headers: { accept: 'application/jupyterhub-pagination+json' } })).json()) as { items: unknown[]; _pagination: { total: number } };
  t.equal(paged.items.length, 1, 'paginated with the Accept header');
  t.equal(paged._pagination.total, after.size);

  t.equal((await api('/proxy', ADMIN, { method: 'PATCH', body: '[]' })).status, 400, 'PATCH needs a dict');
  t.equal((await api('/proxy', ADMIN, { method: 'PATCH', body: JSON.stringify({ api_url: 'not a url' }) })).status, 400);
  const bad = await api('/proxy', ADMIN, { method: 'PATCH', body: JSON.stringify({ auth_token: 'wrong' }) });
  t.equal(bad.status, 500, 'with a wrong proxy token the reconcile fails, and says so');
  t.match(await bad.json(), { status: 500 });
  const good = await api('/proxy', ADMIN, { method: 'PATCH', body: JSON.stringify({ auth_token: th.hub.proxyAuthToken }) });
  t.equal(good.status, 200, 'setting the right token again works');
});

t.test('shutdown API: 202, then the hub and its proxy stop', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root', [USER]: 'alice' } }, authenticator: { admin_users: ['root'] } } });
  const api = (token: string, body: string) =>
    fetch(`${th.publicUrl}/hub/api/shutdown`, { method: 'POST', body, headers: { authorization: `token ${token}`, 'content-type': 'application/json' } });
  t.equal((await api(USER, '{}')).status, 403, 'users may not shut the hub down');
  t.equal((await api(ADMIN, JSON.stringify({ proxy: 'yes' }))).status, 400, 'non-bool options are a 400');
  const res = await api(ADMIN, JSON.stringify({ proxy: true, servers: true }));
  t.equal(res.status, 202);
  t.same(await res.json(), { message: 'Shutting down Hub' });
  const port = Number(new URL(th.publicUrl).port);
  let down = false;
  for (let i = 0; i < 100 && !down; i++) {
    await new Promise((r) => setTimeout(r, 100));
    down = !(await portInUse(port));
  }
  t.ok(down, 'the proxy stopped');
});
