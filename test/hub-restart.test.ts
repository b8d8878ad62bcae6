import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ADMIN_TOKEN = 'a'.repeat(8) + '0123456789abcdef0123456789ab';

const serverPid = (th: TestHub, user: string): number => {
  const rt = [...th.hub.ctx.servers.all].find((r) => r.userName === user);
  const pid = rt?.spawner?.state().pid;
  if (typeof pid !== 'number') throw new Error(`no pid for ${user}'s server`);
  return pid;
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a restarted hub re-adopts running servers and forgets dead ones', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  const th = await startTestHub(t, { config: { hub: { cleanup_servers: false, api_tokens: { [ADMIN_TOKEN]: 'admin' } }, authenticator: { admin_users: ['admin'] } } });
  const alice = new BrowserClient(th.publicUrl);
  const bob = new BrowserClient(th.publicUrl);
  const carol = new BrowserClient(th.publicUrl);
  for (const [who, client] of [['alice', alice], ['bob', bob], ['carol', carol]] as const) {
    const page = await client.login(who);
    t.match(new URL(page.url).pathname, new RegExp(`^/user/${who}/`), `${who} is in her server`);
  }
  const bobPid = serverPid(th, 'bob');
  const alicePid = serverPid(th, 'alice');

  await th.restart(async () => {
    process.kill(-bobPid, 'SIGKILL');
    for (let i = 0; i < 100 && alive(bobPid); i++) await new Promise((r) => setTimeout(r, 50));
  });

  t.ok(alive(alicePid), 'alice\'s server process kept running across the restart');
  for (const [who, client] of [['alice', alice], ['carol', carol]] as const) {
    const status = await client.request(`/user/${who}/api/status`);
    t.equal(status.status, 200, `${who}'s server is reachable through the proxy after the restart, with her old cookies`);
    const home = await client.request('/hub/home');
    t.equal(home.status, 200, `${who} is still logged in to the hub (no re-login)`);
  }

  const api = (path: string) => fetch(`${th.publicUrl}/hub/api${path}`, { headers: { authorization: `token ${ADMIN_TOKEN}` } });
  const bobModel = (await (await api('/users/bob')).json()) as { servers: object; server: unknown };
  t.same(bobModel.servers, {}, 'bob\'s server, killed while the hub was down, is shown as stopped');
  t.equal(bobModel.server, null);
  const aliceModel = (await (await api('/users/alice')).json()) as { servers: Record<string, { ready: boolean }> };
  t.equal(aliceModel.servers['']?.ready, true, 'alice\'s server is ready');

  const routes = await th.hub.ctx.routes.client.getRoutes();
  t.ok(routes.has('/user/alice/') && routes.has('/user/carol/'), 'the live servers\' routes are in the proxy');
  t.notOk(routes.has('/user/bob/'), 'the dead server\'s route is gone');
  const bobPage = await bob.get('/user/bob/tree');
  t.equal(bobPage.status, 424, 'bob gets the "server not running" page, not a redirect loop');
  t.match(bobPage.text, /Launch Server/);
});

t.test('a killed proxy is restarted and every route is back within 10 seconds', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  const th = await startTestHub(t);
  const alice = new BrowserClient(th.publicUrl);
  await alice.login('alice');
  t.equal((await alice.request('/user/alice/api/status')).status, 200, 'reachable before');
  const pid = th.started.proxy?.pid;
  t.ok(pid, 'the hub started the proxy');
  const t0 = Date.now();
  process.kill(pid!, 'SIGKILL');
  let ok = false;
  while (Date.now() - t0 < 30_000) {
    const res = await alice.request('/user/alice/api/status').catch(() => null);
    if (res?.status === 200) {
      ok = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = Date.now() - t0;
  t.ok(ok, `alice's server is reachable again through the proxy (after ${ms} ms)`);
  t.ok(ms < 30_000, 'within 30 seconds (about one on an idle machine)');
  t.not(th.started.proxy?.pid, pid, 'a new proxy process runs');
  const routes = await th.hub.ctx.routes.client.getRoutes();
  t.ok(routes.has('/') && routes.has('/user/alice/'), 'hub and user routes are restored');
  t.comment(`proxy restart to traffic: ${ms} ms`);
});
