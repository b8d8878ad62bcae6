import { randomUUID } from 'node:crypto';
import t from 'tap';
import WebSocket from 'ws';
import { BrowserClient } from './support/browser-client.js';
import { executeOnKernel } from './support/kernel-client.js';
import { hasIpykernel, hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * The built-in idle culler against real jupyterhub-singleuser servers, with a 3 s timeout. Rounds
 * are driven by `runOnce()` (cull_every 3600) except in the first test, which lets the culler's own
 * timer (cull_every 1) and the proxy activity collection (last_activity_interval 1) do the work.
 */

const ADMIN_TOKEN = 'c'.repeat(32);
const TIMEOUT_S = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function api(th: TestHub, token = ADMIN_TOKEN) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${th.publicUrl}/hub/api${path}`, {
      method,
      headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
}

async function waitFor<T>(ms: number, probe: () => T | undefined | false | Promise<T | undefined | false>, every = 100): Promise<T | undefined> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) return undefined;
    await sleep(every);
  }
}

/** Creates the users and starts their servers through the API; resolves when all are ready. */
async function startServers(t: Parameters<Parameters<typeof t.test>[1]>[0], th: TestHub, specs: Array<[user: string, server: string]>): Promise<void> {
  const call = api(th);
  const users = [...new Set(specs.map(([u]) => u))];
  const created = await call('POST', '/users', { usernames: users });
  t.ok([201, 409].includes(created.status), `users created (${created.status})`);
  await Promise.all(specs.map(async ([user, server]) => {
    const res = await call('POST', server ? `/users/${user}/servers/${server}` : `/users/${user}/server`);
    if (![201, 202].includes(res.status)) throw new Error(`start ${user}/${server}: ${res.status} ${JSON.stringify(res.body)}`);
  }));
  const ready = await waitFor(60_000, () => specs.every(([user, server]) => runtime(th, user, server)?.ready));
  if (!ready) throw new Error('servers did not become ready');
}

function runtime(th: TestHub, user: string, server = '') {
  return [...th.hub.ctx.servers.all].find((rt) => rt.userName === user && rt.serverName === server);
}

/** Reports activity for a user's server every second, as a busy single-user server would. */
function keepActive(th: TestHub, user: string, server = ''): () => void {
  const call = api(th);
  let on = true;
  void (async () => {
    while (on) {
      const now = new Date().toISOString();
      await call('POST', `/users/${user}/activity`, { last_activity: now, servers: { [server]: { last_activity: now } } }).catch(() => undefined);
      await sleep(1000);
    }
  })();
  return () => {
    on = false;
  };
}

async function cullerTokens(th: TestHub): Promise<number> {
  const rows = await th.hub.ctx.db.selectFrom('api_tokens').select('id').where('note', '=', 'culler').execute();
  return rows.length;
}

t.test('activity mode, on its own timer: idle servers are culled, active ones are kept', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN_TOKEN]: 'admin' }, last_activity_interval: 1, redirect_to_server: false, allow_named_servers: true },
      authenticator: { admin_users: ['admin'] },
      culler: { enabled: true, timeout: TIMEOUT_S, cull_every: 1 },
    },
  });
  t.ok(th.started.culler, 'culler.enabled starts the culler');
  const stops: Array<{ user: string; server: string; reason: string; at: number }> = [];
  th.hub.ctx.events.on('stop', (e) => stops.push({ ...e, at: Date.now() }));

  const t0 = Date.now();
  // alice: nobody uses her servers (one named). admin: idle too, and cull_admin_users defaults to
  // true. bob: his server reports activity. carol: someone uses hers through the proxy.
  await startServers(t, th, [['alice', ''], ['alice', 'nb'], ['admin', ''], ['bob', ''], ['carol', '']]);
  const spawnMs = Date.now() - t0;
  const stopBob = keepActive(th, 'bob');
  const carolToken = (await api(th)('POST', '/users/carol/tokens', { scopes: ['access:servers!server=carol/'], note: 'visitor' })).body.token as string;
  let carolOn = true;
  let carolOk = 0;
  void (async () => {
    while (carolOn) {
      const res = await fetch(`${th.publicUrl}/user/carol/api/status`, { headers: { authorization: `token ${carolToken}` } }).catch(() => null);
      if (res?.status === 200) carolOk++;
      await res?.text();
      await sleep(500);
    }
  })();
  t.teardown(() => {
    stopBob();
    carolOn = false;
  });
  const aliceStarted = runtime(th, 'alice')!.started!.getTime();
  const carolStarted = runtime(th, 'carol')!.started!.getTime();

  const culled = await waitFor(25_000, () => !runtime(th, 'alice') && !runtime(th, 'alice', 'nb') && !runtime(th, 'admin'));
  t.ok(culled, 'alice\'s and the admin\'s idle servers were culled');
  const aliceStop = stops.find((s) => s.user === 'alice' && s.server === '');
  t.match(aliceStop, { server: '', reason: 'cull' }, 'with a stop event of reason cull');
  const afterMs = aliceStop!.at - aliceStarted;
  t.ok(afterMs >= TIMEOUT_S * 1000, `not before the timeout (${afterMs} ms after start)`);
  // Slack for the stop itself (a Python server shutting down) on a loaded two-core machine.
  t.ok(afterMs <= TIMEOUT_S * 1000 + 10_000, `and soon after: within timeout + cull_every + stop time + slack (${afterMs} ms)`);
  t.comment(`5 servers ready in ${spawnMs} ms; alice culled ${afterMs} ms after her start`);
  t.same((await api(th)('GET', '/users/alice')).body.servers, {}, 'the API shows alice\'s servers stopped');
  const withStopped = (await api(th)('GET', '/users/alice?include_stopped_servers=1')).body;
  t.match(withStopped.servers, { nb: { stopped: true } }, 'her named server is only stopped (remove_named_servers is off)');
  t.notOk((await th.hub.ctx.routes.client.getRoutes()).has('/user/alice/'), 'and its route is gone');

  // Let bob and carol run well past timeout + interval.
  await sleep(Math.max(0, carolStarted + (TIMEOUT_S + 3) * 1000 - Date.now()));
  t.ok(runtime(th, 'bob')?.ready, 'bob, whose server reports activity, keeps his server');
  t.ok(runtime(th, 'carol')?.ready, `carol, used through the proxy (${carolOk} requests), keeps hers`);
  const carolRow = await th.hub.ctx.db.selectFrom('spawners').innerJoin('users', 'users.id', 'spawners.user_id')
    .select(['spawners.last_activity as server_activity', 'users.last_activity as user_activity']).where('users.name', '=', 'carol').where('spawners.name', '=', '').executeTakeFirstOrThrow();
  t.ok(carolRow.server_activity!.getTime() > carolStarted + TIMEOUT_S * 1000, 'the proxy\'s route activity moved carol\'s spawners.last_activity forward');
  t.ok(carolRow.user_activity!.getTime() >= carolRow.server_activity!.getTime() - 1000, 'and users.last_activity with it');
  const carolModel = (await api(th)('GET', '/users/carol')).body;
  t.ok(Date.now() - Date.parse(carolModel.servers[''].last_activity) < (TIMEOUT_S + 1) * 1000, 'the API shows carol\'s recent proxy activity');

  // bob stops working: culled after the timeout.
  stopBob();
  const bobIdleSince = Date.now();
  t.ok(await waitFor(25_000, () => !runtime(th, 'bob')), 'once bob stops, his server is culled too');
  const bobMs = Date.now() - bobIdleSince;
  t.ok(bobMs >= (TIMEOUT_S - 1) * 1000 && bobMs <= (TIMEOUT_S + 10) * 1000, `${bobMs} ms after his last activity report`);
  t.equal(stops.filter((s) => s.reason === 'cull').length, 4, 'four culls, each with a stop event of reason cull');
  t.ok(runtime(th, 'carol')?.ready, 'carol is still running');
  carolOn = false;
});

t.test('runOnce: cull_users, remove_named_servers, admins, max_age', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  const MAX_AGE_S = 4 * TIMEOUT_S;
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN_TOKEN]: 'admin' }, redirect_to_server: false, allow_named_servers: true },
      authenticator: { admin_users: ['admin', 'root'] },
      culler: { enabled: true, timeout: TIMEOUT_S, max_age: MAX_AGE_S, cull_every: 3600, cull_users: true, remove_named_servers: true, cull_admin_users: false },
    },
  });
  const culler = th.started.culler!;
  const call = api(th);
  // frank: an idle named server. gina, alice: active servers. root: an admin with an idle server.
  await startServers(t, th, [['frank', 'nb'], ['gina', ''], ['alice', ''], ['root', '']]);
  // Everything counts as fresh from here on, however long the starts took on a busy machine: the
  // servers report activity now, and dave and erin are created now.
  const fresh = new Date().toISOString();
  for (const [u, s] of [['frank', 'nb'], ['root', '']]) {
    t.equal((await call('POST', `/users/${u}/activity`, { last_activity: fresh, servers: { [s!]: { last_activity: fresh } } })).status, 200);
  }
  t.equal((await call('POST', '/users', { usernames: ['dave', 'erin'] })).status, 201, 'dave and erin exist, without servers');
  const started = Date.now();
  const stops = [keepActive(th, 'gina'), keepActive(th, 'alice')];
  t.teardown(() => stops.forEach((s) => s()));
  const first = await culler.runOnce();
  t.same([first.servers, first.users], [[], []], 'nothing is idle yet');

  await sleep(Math.max(0, started + TIMEOUT_S * 1000 + 300 - Date.now()));
  // erin comes back just before the round.
  t.equal((await call('POST', '/users/erin/activity', { last_activity: new Date().toISOString() })).status, 200);
  let t0 = Date.now();
  const report = await culler.runOnce();
  t.comment(`round with one cull and two user deletions took ${Date.now() - t0} ms`);
  t.same(report.servers, [{ user: 'frank', server: 'nb', reason: 'idle', removed: true }], 'frank\'s idle named server is culled and removed');
  t.same(report.users.sort(), ['dave', 'frank'], 'idle users without servers are deleted (frank right after his server)');
  t.equal((await call('GET', '/users/dave')).status, 404, 'dave is gone');
  t.equal((await call('GET', '/users/frank')).status, 404, 'frank is gone');
  t.equal((await th.hub.ctx.db.selectFrom('spawners').select('id').where('name', '=', 'nb').execute()).length, 0, 'with his server row');
  t.equal((await call('GET', '/users/erin')).status, 200, 'erin, active recently, stays');
  t.ok(runtime(th, 'root')?.ready, 'the idle admin root keeps his server (cull_admin_users false)');
  t.equal((await call('GET', '/users/root')).status, 200, 'and is not deleted');
  t.ok(runtime(th, 'gina')?.ready && runtime(th, 'alice')?.ready, 'gina and alice, whose servers are active, keep them');

  await sleep(Math.max(0, started + MAX_AGE_S * 1000 + 300 - Date.now()));
  t.equal((await call('POST', '/users/erin/activity', { last_activity: new Date().toISOString() })).status, 200);
  t0 = Date.now();
  const aged = await culler.runOnce();
  t.comment(`round with two culls took ${Date.now() - t0} ms`);
  t.same(aged.servers.sort((a, b) => a.user.localeCompare(b.user)), [
    { user: 'alice', server: '', reason: 'max_age', removed: false },
    { user: 'gina', server: '', reason: 'max_age', removed: false },
  ], 'after max_age, the active servers are culled for their age');
  t.same(aged.users, [], 'their users, active, are not deleted');
  t.ok(runtime(th, 'root')?.ready, 'the admin\'s server is still kept');
});

/**
 * Sends code to a kernel and resolves once the kernel reports it busy (without waiting for the
 * result). The classic notebook server nudges a new websocket's kernel with kernel_info requests on
 * the shell and control channels, and takes the control reply's "idle" status for the kernel's
 * state even while the shell is busy; so the code is sent only once that traffic has settled.
 */
function startRunning(wsUrl: string, headers: Record<string, string>, code: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { headers });
    const msgId = randomUUID();
    const timer = setTimeout(() => (ws.terminate(), reject(new Error('the kernel never went busy'))), 20_000);
    let quietTimer: NodeJS.Timeout | null = null;
    let sent = false;
    const send = () => {
      if (sent) return;
      sent = true;
      ws.send(JSON.stringify({
        header: { msg_id: msgId, username: 'test', session: randomUUID(), msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
        parent_header: {}, metadata: {}, channel: 'shell',
        content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }));
    };
    const quiet = () => {
      if (quietTimer) clearTimeout(quietTimer);
      if (!sent) quietTimer = setTimeout(send, 700);
    };
    ws.on('open', () => {
      quiet();
      setTimeout(send, 4000).unref();
    });
    ws.on('message', (data) => {
      quiet();
      const msg = JSON.parse(String(data)) as { msg_type?: string; parent_header?: { msg_id?: string }; content?: { execution_state?: string } };
      if (msg.parent_header?.msg_id === msgId && msg.msg_type === 'status' && msg.content?.execution_state === 'busy') {
        clearTimeout(timer);
        resolve(ws);
      }
    });
    ws.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}

async function startKernel(th: TestHub, c: BrowserClient, user: string): Promise<{ id: string; wsUrl: string; cookie: string }> {
  const xsrf = await c.cookieValue('_xsrf', `/user/${user}/`);
  const res = await c.request(`/user/${user}/api/kernels`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...(xsrf ? { 'x-xsrftoken': xsrf } : {}) } });
  if (res.status !== 201) throw new Error(`kernel start: ${res.status} ${res.text.slice(0, 200)}`);
  const { id } = JSON.parse(res.text) as { id: string };
  const path = `/user/${user}/api/kernels/${id}/channels`;
  return { id, wsUrl: th.publicUrl.replace(/^http/, 'ws') + path, cookie: await c.jar.getCookieString(c.abs(path)) };
}

t.test('kernel-aware: a busy kernel keeps its server; an open tab on idle kernels does not', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  if (!need(t, hasIpykernel(), 'python3-ipykernel')) return;
  const th = await startTestHub(t, {
    config: {
      hub: { api_tokens: { [ADMIN_TOKEN]: 'admin' } },
      authenticator: { admin_users: ['admin'] },
      culler: { enabled: true, timeout: TIMEOUT_S, cull_every: 3600, idleness: 'kernels' },
    },
  });
  const culler = th.started.culler!;
  const alice = new BrowserClient(th.publicUrl);
  const bob = new BrowserClient(th.publicUrl);
  const t0 = Date.now();
  const [la, lb] = await Promise.all([alice.login('alice'), bob.login('bob'), startServers(t, th, [['ivy', ''], ['jim', '']])]);
  t.match([new URL(la.url).pathname, new URL(lb.url).pathname], [/^\/user\/alice\//, /^\/user\/bob\//], 'alice and bob log in to their running servers');
  const [ka, kb] = await Promise.all([startKernel(th, alice, 'alice'), startKernel(th, bob, 'bob')]);
  t.comment(`four servers and two kernels up in ${Date.now() - t0} ms`);
  // ivy and jim cannot be asked: where the culler asks (the servers' own address) nothing answers
  // now; the proxy is not involved. jim's server reports activity, ivy's does not.
  for (const user of ['ivy', 'jim']) runtime(th, user)!.url = 'http://127.0.0.1:9';
  const jimActive = keepActive(th, 'jim');
  t.teardown(jimActive);

  // alice starts a long computation and closes the tab; bob ran a cell and left his tab open.
  const ws = await startRunning(ka.wsUrl, { cookie: ka.cookie }, 'import time; time.sleep(20)');
  ws.close();
  const reportedBusy = await waitFor(5000, async () => JSON.parse((await alice.request(`/user/alice/api/kernels/${ka.id}`)).text).execution_state === 'busy');
  t.ok(reportedBusy, 'alice\'s server reports her kernel busy');
  t.equal((await executeOnKernel(kb.wsUrl, { cookie: kb.cookie }, 'print(6 * 7)')).trim(), '42', 'bob\'s cell ran');
  const bobOpenTab = keepActive(th, 'bob');
  t.teardown(bobOpenTab);
  await sleep(TIMEOUT_S * 1000 + 500);

  const t1 = Date.now();
  const report = await culler.runOnce();
  const roundMs = Date.now() - t1;
  t.comment(`kernel-aware round (4 servers asked, 2 culled) took ${roundMs} ms`);
  t.equal(report.checked, 4, 'all four servers were asked about their kernels');
  t.same(report.busy, ['alice/'], 'alice\'s kernel is busy');
  t.ok(runtime(th, 'alice')?.ready, 'so her server is kept although nobody has touched it for longer than the timeout');
  t.ok(Date.now() - runtime(th, 'alice')!.lastActivity!.getTime() < roundMs + 1000, 'and counts as active now');
  const aliceRow = await th.hub.ctx.db.selectFrom('spawners').innerJoin('users', 'users.id', 'spawners.user_id').select('spawners.last_activity').where('users.name', '=', 'alice').executeTakeFirstOrThrow();
  t.ok(Date.now() - aliceRow.last_activity!.getTime() < roundMs + 1000, 'also in the database');
  t.same(report.servers.map((s) => `${s.user}:${s.reason}`).sort(), ['bob:idle', 'ivy:idle'], 'bob\'s server (idle kernel, open tab reporting activity) is culled, and ivy\'s (cannot be asked, no hub activity)');
  t.notOk(runtime(th, 'bob'), 'bob\'s server is stopped');
  t.ok(runtime(th, 'jim')?.ready, 'jim\'s (cannot be asked, but hub activity) is kept');
  t.equal(await cullerTokens(th), 0, 'the culler\'s tokens were deleted after use');
  t.equal(report.errors, 0, 'no errors');
  jimActive();
  bobOpenTab();
});
