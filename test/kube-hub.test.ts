import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig, type Hub } from '@tshub/hub';
import { BrowserClient } from './support/browser-client.js';
import { FakeKubeApi } from './support/fake-kube-api.js';
import { freePort, portInUse } from './support/free-port.js';
import { hasSingleuser, need } from './support/requirements.js';

/**
 * Acceptance of issue #4 through a real hub and proxy, with the kubernetes kind talking to the fake API
 * server through the real @kubernetes/client-node: the student flow into a pod running the real
 * jupyterhub-singleuser, progress from pod events, re-adoption after a hub restart, stop, an image pull
 * back-off ending the spawn early, and 20 concurrent spawns served from the watch cache (counted).
 */

const N = 20;
const asRoot = process.geteuid?.() === 0;
/** A container light enough to run 20 of: answers 404 on the port the pod was given. */
const LIGHT_SERVER = [
  'python3', '-c',
  "import os,http.server as h,urllib.parse as u; p=u.urlparse(os.environ['JUPYTERHUB_SERVICE_URL']).port; h.HTTPServer(('127.0.0.1',p),h.SimpleHTTPRequestHandler).serve_forever()",
];

interface KubeHub {
  publicUrl: string;
  /** An admin API token. */
  token: string;
  hub: Hub;
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
  restart(): Promise<void>;
}

/**
 * A hub on free ports whose spawner is the kubernetes kind pointed at `fake` (closed with it, after
 * the hub). (startTestHub adds the
 * process spawners' home_dir_template and log_dir, which this kind rightly refuses as unknown options.)
 */
async function startKubeHub(t: Test, fake: FakeKubeApi): Promise<KubeHub> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-kube-test-'));
  const [publicPort, apiPort] = [await freePort(), await freePort()];
  const token = randomBytes(16).toString('hex');
  const state = { publicUrl: `http://127.0.0.1:${publicPort}`, token } as KubeHub;
  // The hub stops its servers while the fake still answers; then the fake goes.
  // Registered first, so nothing leaks if the hub does not boot.
  t.teardown(async () => {
    if (state.hub) {
      await Promise.all([...state.hub.ctx.servers.all].map((rt) => state.hub.ctx.servers.stop(rt, { now: true })));
      await state.hub.close();
    }
    await fake.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const result = validateConfig({
    hub: {
      bind_url: `http://127.0.0.1:${publicPort}`, hub_ip: '127.0.0.1', data_dir: dataDir, db_url: `pglite:${path.join(dataDir, 'db')}`,
      last_activity_interval: 0, api_tokens: { [token]: 'admin' }, cleanup_servers: false, slow_spawn_timeout: 0.1,
    },
    authenticator: { kind: 'dummy', allow_all: true, admin_users: ['admin'] },
    spawner: {
      kind: 'kubespawner', api_url: fake.url, api_token: fake.token, namespace: 'jhub', start_timeout: 60,
      args: asRoot ? ['--allow-root'] : [], environment: { JUPYTERHUB_SINGLEUSER_APP: 'notebook.notebookapp.NotebookApp' },
      image: 'quay.io/jupyter/base-notebook:2025-01-01', mem_limit: '1G', cpu_limit: 0.5,
      profile_list: [
        { display_name: 'Notebook', slug: 'notebook', default: true },
        { display_name: 'Load test', slug: 'light', allowed_groups: ['load'], kubespawner_override: { cmd: LIGHT_SERVER, args: [] } },
      ],
    },
    proxy: { api_url: `http://127.0.0.1:${apiPort}`, log_level: 'warn' },
  }, defaultRegistry());
  if (!result.ok) throw new Error('test config invalid: ' + result.errors.join('; '));
  const logger = pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' });
  const boot = async () => {
    state.hub = await buildHub({ config: structuredClone(result.config), logger });
    await state.hub.start({ hubPort: 0 });
  };
  await boot();
  state.restart = async () => {
    await state.hub.close();
    await boot();
  };
  state.api = async (method, route, body) => {
    const res = await fetch(`${state.publicUrl}/hub/api${route}`, {
      method, headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return state;
}

interface Progress { progress: number; message: string; failed?: boolean; ready?: boolean }

/** Reads a user's progress stream (text/event-stream) until the hub ends it. */
async function progressOf(kh: KubeHub, user: string): Promise<Progress[]> {
  const res = await fetch(`${kh.publicUrl}/hub/api/users/${user}/server/progress`, {
    headers: { authorization: `token ${kh.token}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(60_000),
  });
  const raw = await res.text();
  return raw.split(/\n\n/).map((b) => b.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join(''))
    .filter(Boolean).map((d) => JSON.parse(d) as Progress);
}

/** Polls `check` every 50 ms until it holds or `ms` pass. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return false;
}

t.test('kubernetes spawner through the hub', async (t) => {
  const fake = await new FakeKubeApi().start();
  const kh = await startKubeHub(t, fake);
  t.same([fake.count('LIST pods'), fake.count('LIST events')], [1, 1], 'the hub listed pods and events once at start-up');
  t.equal((await kh.api('POST', '/users', { usernames: ['alice', 'bob'] })).status, 201, 'users alice and bob');

  t.test('student flow: spawn to ready, progress from pod events, /user/alice/api/status through the proxy', async (t) => {
    if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
    const post = await kh.api('POST', '/users/alice/server');
    t.equal(post.status, 202, 'POST /users/alice/server: 202 while the pod starts');
    const events = await progressOf(kh, 'alice');
    const messages = events.map((e) => e.message);
    for (const reason of ['Scheduled', 'Pulling', 'Pulled', 'Created', 'Started']) {
      t.ok(messages.some((m) => m.startsWith(`[Normal] ${reason}:`)), `progress shows the pod's ${reason} event`);
    }
    t.match(events.at(-1), { ready: true, progress: 100 }, 'the stream ends with ready');
    const [pod] = fake.objects('pods', 'jhub');
    t.match(pod?.metadata, { name: 'jupyter-alice', labels: { component: 'singleuser-server', 'hub.jupyter.org/username': 'alice' } }, 'pod jupyter-alice with KubeSpawner\'s labels');
    t.match(pod?.spec.containers[0], { image: 'quay.io/jupyter/base-notebook:2025-01-01', resources: { limits: { cpu: '0.5', memory: String(1024 ** 3) } } }, 'image and limits from the config');

    const alice = new BrowserClient(kh.publicUrl);
    const landed = await alice.login('alice');
    t.equal(landed.status, 200, `alice lands on a page (${alice.hops.slice(-3).join(' | ')})`);
    t.match(new URL(landed.url).pathname, /^\/user\/alice\//, 'in her own server');
    const status = await alice.request('/user/alice/api/status');
    t.equal(status.status, 200, '/user/alice/api/status through the proxy: 200');
    t.match(JSON.parse(status.text), { kernels: Number }, 'answered by jupyterhub-singleuser in the "pod"');

    t.test('re-adoption after a hub restart', async (t) => {
      const posts = fake.count('POST pods');
      await kh.restart();
      t.equal(fake.count('POST pods'), posts, 'no pod created by the restart');
      t.equal(fake.count('GET pods/:name'), 0, 'and none read one by one: the new hub read its cache');
      const user = await kh.api('GET', '/users/alice');
      t.match(user.body, { server: '/user/alice/', pending: null }, 'the API shows alice\'s server running');
      const again = await alice.request('/user/alice/api/status');
      t.equal(again.status, 200, 'her server still answers through the proxy after the restart');
    });

    t.test('stop deletes the pod and ends its server', async (t) => {
      const port = Number(new URL(fake.objects('pods', 'jhub')[0]!.spec.containers[0].env.find((e: { name: string }) => e.name === 'JUPYTERHUB_SERVICE_URL').value).port);
      const del = await kh.api('DELETE', '/users/alice/server');
      t.ok([202, 204].includes(del.status), `DELETE /users/alice/server: ${del.status}`);
      t.ok(await until(async () => (await kh.api('GET', '/users/alice')).body.server === null), 'the API shows no server');
      t.equal(fake.objects('pods', 'jhub').length, 0, 'the pod is gone');
      t.notOk(await portInUse(port), 'and nothing listens on its port any more');
    });
  });

  t.test('an image pull back-off ends the spawn early with the reason', async (t) => {
    fake.scenarios.set('jupyter-bob', 'image-pull-backoff');
    const t0 = Date.now();
    t.equal((await kh.api('POST', '/users/bob/server')).status, 202, 'POST /users/bob/server: 202');
    const last = (await progressOf(kh, 'bob')).at(-1);
    const seconds = (Date.now() - t0) / 1000;
    t.match(last, { failed: true, message: /^Spawn failed: The image quay\.io\/jupyter\/base-notebook:2025-01-01 could not be pulled \(ErrImagePull: Failed to pull image/ }, 'the stream ends failed, naming the image and the reason');
    t.ok(seconds < 20, `after ${seconds.toFixed(1)} s, not at start_timeout (60 s)`);
    t.match((await kh.api('GET', '/users/bob')).body, { server: null, pending: null }, 'nothing left pending');
    t.equal(fake.objects('pods', 'jhub').filter((p) => p.metadata.name === 'jupyter-bob').length, 0, 'the failed pod was deleted');
  });

  t.test(`${N} concurrent spawns are served from the watch cache`, async (t) => {
    const users = Array.from({ length: N }, (_, i) => `load${String(i).padStart(2, '0')}`);
    t.equal((await kh.api('POST', '/users', { usernames: users })).status, 201, `${N} users created`);
    t.equal((await kh.api('POST', '/groups/load', { users })).status, 201, 'in group load, the only one that may use the light profile');
    const before = new Map(fake.requests);
    const delta = (key: string) => fake.count(key) - (before.get(key) ?? 0);
    const t0 = Date.now();
    const posts = await Promise.all(users.map((u) => kh.api('POST', `/users/${u}/server`, { profile: 'light' })));
    t.ok(posts.every((p) => p.status === 201 || p.status === 202), `all ${N} accepted (${[...new Set(posts.map((p) => p.status))].join(', ')})`);
    const ends = await Promise.all(users.map((u) => progressOf(kh, u).then((e) => e.at(-1))));
    const seconds = (Date.now() - t0) / 1000;
    t.ok(ends.every((e) => e?.ready), `all ${N} ready in ${seconds.toFixed(1)} s`);
    const started = delta('POST pods');
    await Promise.all(users.map((u) => kh.api('DELETE', `/users/${u}/server`)));
    t.ok(await until(() => fake.objects('pods', 'jhub').length === 0, 20_000), 'all pods deleted after the stops');
    t.equal(started, N, `${N} pod creations`);
    t.equal(delta('DELETE pods/:name'), N, `${N} pod deletions`);
    t.equal(delta('GET pods/:name'), 0, 'not one GET of a single pod: every wait was on the watch cache');
    t.equal(delta('LIST pods') + delta('WATCH pods') + delta('LIST events') + delta('WATCH events'), 0, 'the watches stayed open: no re-list');
    const total = [...fake.requests.keys()].reduce((sum, k) => sum + delta(k), 0);
    t.ok(total <= 2 * N, `${total} API requests for ${N} spawns and stops (at most 2 per server: create and delete)`);
    t.comment(`${N} spawns: ${seconds.toFixed(1)} s, ${total} API requests`);
  });
});
