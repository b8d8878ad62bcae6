import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { hasSingleuser, need } from './support/requirements.js';
import { startTestHub, type TestHub, type TestHubOptions } from './support/test-hub.js';

/**
 * Acceptance: /hub/metrics and /hub/api/metrics serve JupyterHub's Prometheus metrics (names,
 * types, labels), need read:metrics unless authenticate_prometheus is false, and count what a real
 * hub does (requests, spawns that succeed or fail, stops, running servers).
 */

const ADMIN = randomBytes(16).toString('hex');
const ALICE = randomBytes(16).toString('hex');

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Exposition { help: Map<string, string>; type: Map<string, string>; samples: Sample[] }

/** A small parser for the Prometheus text format 0.0.4 (what the hub emits; no timestamps). */
function parseExposition(text: string): Exposition {
  const out: Exposition = { help: new Map(), type: new Map(), samples: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? out.help : out.type).set(meta[2]!, meta[3]!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = m[3]!;
    out.samples.push({ name: m[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return out;
}

/** The value of the one sample `name` whose labels include `labels`, or undefined. */
function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

async function scrape(th: TestHub, token?: string, path = '/hub/metrics'): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`${th.publicUrl}${path}`, { headers: token ? { authorization: `token ${token}` } : {} });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

async function metrics(th: TestHub): Promise<Exposition> {
  const r = await scrape(th, ADMIN);
  if (r.status !== 200) throw new Error(`scrape: ${r.status} ${r.text}`);
  return parseExposition(r.text);
}

async function api(th: TestHub, token: string, method: string, route: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${th.publicUrl}/hub/api${route}`, { method, headers: { authorization: `token ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await check()); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

function metricsHub(t: Test, extra: { hub?: Record<string, unknown>; spawner?: Record<string, unknown> } = {}): Promise<TestHub> {
  const config: TestHubOptions['config'] = {
    hub: { api_tokens: { [ADMIN]: 'root', [ALICE]: 'alice' }, ...extra.hub },
    authenticator: { admin_users: ['root'] },
    ...(extra.spawner ? { spawner: extra.spawner } : {}),
  };
  return startTestHub(t, { config });
}

const P = 'jupyterhub_';
const EXPECTED: Record<string, 'histogram' | 'gauge'> = {
  request_duration_seconds: 'histogram',
  server_spawn_duration_seconds: 'histogram',
  server_stop_seconds: 'histogram',
  running_servers: 'gauge',
  total_users: 'gauge',
  active_users: 'gauge',
  check_routes_duration_seconds: 'histogram',
  proxy_poll_duration_seconds: 'histogram',
  proxy_add_duration_seconds: 'histogram',
  proxy_delete_duration_seconds: 'histogram',
  server_poll_duration_seconds: 'histogram',
  hub_startup_duration_seconds: 'histogram',
  spawn_pending: 'gauge',
  spawn_queue_length: 'gauge',
};

t.test('authentication, names and types, requests, a spawn and a stop', async (t) => {
  const th = await metricsHub(t);

  for (const path of ['/hub/metrics', '/hub/api/metrics']) {
    const anon = await scrape(th, undefined, path);
    t.equal(anon.status, 403, `${path} without credentials: 403`);
    t.match(anon.contentType, /^application\/json/, 'as JSON');
    t.same(JSON.parse(anon.text), { status: 403, message: 'Missing or invalid credentials.' }, 'the API\'s message');
    const bad = await scrape(th, 'not-a-token', path);
    t.equal(bad.status, 403, `${path} with an unknown token: 403`);
    const user = await scrape(th, ALICE, path);
    t.equal(user.status, 403, `${path} with a user's token (no read:metrics): 403`);
    t.same(JSON.parse(user.text), { status: 403, message: 'Action is not authorized with current scopes; requires any of [read:metrics]' }, 'naming the scope');
    const admin = await scrape(th, ADMIN, path);
    t.equal(admin.status, 200, `${path} with an admin token: 200`);
    t.match(admin.contentType, /^text\/plain; version=0\.0\.4/, 'text/plain; version=0.0.4');
  }

  const first = await metrics(th);
  for (const [name, type] of Object.entries(EXPECTED)) {
    t.equal(first.type.get(P + name), type, `# TYPE ${P}${name} ${type}`);
    t.ok(first.help.get(P + name), `# HELP ${P}${name}`);
  }
  t.equal(value(first, `${P}hub_startup_duration_seconds_count`), 1, 'the start-up was timed once');
  t.ok(value(first, `${P}hub_startup_duration_seconds_sum`)! > 0, 'and took some time');
  t.ok(value(first, `${P}proxy_poll_duration_seconds_count`)! >= 1, 'the start-up route check polled the proxy');
  t.equal(value(first, `${P}running_servers`), 0, 'no servers yet');
  t.equal(value(first, `${P}spawn_pending`), 0, 'no spawn pending');
  t.equal(value(first, `${P}spawn_queue_length`), 0, 'no queue');
  t.equal(value(first, `${P}total_users`), 2, 'total_users: root and alice');
  for (const period of ['24h', '7d', '30d']) t.type(value(first, `${P}active_users`, { period }), 'number', `active_users{period="${period}"}`);
  for (const status of ['success', 'failure', 'already-pending', 'throttled', 'too-many-users']) {
    t.equal(value(first, `${P}server_spawn_duration_seconds_count`, { status }), 0, `spawn count{status="${status}"} starts at 0`);
  }

  t.equal((await api(th, ADMIN, 'POST', '/users/carol')).status, 201, 'create carol');
  const burst = await Promise.all(Array.from({ length: 5 }, () => metrics(th)));
  t.same(burst.map((e) => value(e, `${P}total_users`)), [2, 2, 2, 2, 2], 'user counts are cached (at most one query per 30 s), even in a burst of scrapes');

  t.equal((await api(th, ALICE, 'GET', '/user')).status, 200, 'GET /hub/api/user as alice');
  const handler = { method: 'GET', handler: '/hub/api/user', code: '200' };
  let afterUser = await metrics(th);
  // The request is counted when its response has finished; allow the hook a moment.
  for (let i = 0; i < 20 && !value(afterUser, `${P}request_duration_seconds_count`, handler); i++) afterUser = await metrics(th);
  t.equal(value(afterUser, `${P}request_duration_seconds_count`, handler), 1, 'request_duration_seconds has the /hub/api/user series');
  t.equal(value(afterUser, `${P}request_duration_seconds_bucket`, { ...handler, le: '+Inf' }), 1, 'with its +Inf bucket');
  t.ok(afterUser.samples.some((s) => s.name === `${P}request_duration_seconds_count` && s.labels.code === '403'), 'the refused scrapes are counted too (code 403)');

  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const started = await api(th, ALICE, 'POST', '/users/alice/server');
  t.ok([201, 202].includes(started.status), `POST /hub/api/users/alice/server: ${started.status}`);
  await waitFor('alice ready', async () => {
    const u = await api(th, ALICE, 'GET', '/users/alice');
    return u.body.server !== null && u.body.pending === null;
  });
  const running = await metrics(th);
  t.equal(value(running, `${P}server_spawn_duration_seconds_count`, { status: 'success' }), 1, 'spawn count{status="success"} is 1');
  t.ok(value(running, `${P}server_spawn_duration_seconds_sum`, { status: 'success' })! > 0, 'with its duration');
  t.equal(value(running, `${P}server_spawn_duration_seconds_count`, { status: 'failure' }), 0, 'no failure');
  t.equal(value(running, `${P}running_servers`), 1, 'running_servers is 1');
  t.equal(value(running, `${P}spawn_pending`), 0, 'nothing pending');
  t.equal(value(running, `${P}proxy_add_duration_seconds_count`, { status: 'success' }), 1, 'the route was added once');

  t.equal((await api(th, ALICE, 'DELETE', '/users/alice/server')).status, 204, 'stop alice');
  const stopped = await metrics(th);
  t.equal(value(stopped, `${P}running_servers`), 0, 'running_servers back to 0');
  t.equal(value(stopped, `${P}server_stop_seconds_count`, { status: 'success' }), 1, 'server_stop_seconds count{status="success"} is 1');
  t.equal(value(stopped, `${P}proxy_delete_duration_seconds_count`, { status: 'success' }), 1, 'the route was deleted once');
});

t.test('a failed spawn is counted as a failure', async (t) => {
  const th = await metricsHub(t, { spawner: { cmd: ['/nonexistent/jupyterhub-singleuser-nope'] } });
  const post = await api(th, ALICE, 'POST', '/users/alice/server');
  t.equal(post.status, 500, 'the spawn fails');
  await waitFor('the failure', async () => (await api(th, ALICE, 'GET', '/users/alice')).body.pending === null);
  const m = await metrics(th);
  t.equal(value(m, `${P}server_spawn_duration_seconds_count`, { status: 'failure' }), 1, 'spawn count{status="failure"} is 1');
  t.equal(value(m, `${P}server_spawn_duration_seconds_count`, { status: 'success' }), 0, 'and no success');
  t.equal(value(m, `${P}running_servers`), 0, 'nothing running');
  t.equal(value(m, `${P}spawn_pending`), 0, 'nothing pending');
});

t.test('authenticate_prometheus: false makes the scrape public; prefix and buckets from the environment', async (t) => {
  const saved = { prefix: process.env.JUPYTERHUB_METRICS_PREFIX, buckets: process.env.JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS };
  process.env.JUPYTERHUB_METRICS_PREFIX = 'tshub_test';
  process.env.JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS = '1,2,4,inf';
  let th: TestHub;
  try {
    th = await metricsHub(t, { hub: { authenticate_prometheus: false } });
  } finally {
    for (const [k, v] of [['JUPYTERHUB_METRICS_PREFIX', saved.prefix], ['JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS', saved.buckets]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  for (const path of ['/hub/metrics', '/hub/api/metrics']) {
    const anon = await scrape(th, undefined, path);
    t.equal(anon.status, 200, `${path} without credentials: 200`);
    const e = parseExposition(anon.text);
    t.equal(e.type.get('tshub_test_running_servers'), 'gauge', 'names carry JUPYTERHUB_METRICS_PREFIX');
    t.notOk(e.samples.some((s) => s.name.startsWith('jupyterhub_')), 'and not the default prefix');
    const les = e.samples.filter((s) => s.name === 'tshub_test_server_spawn_duration_seconds_bucket' && s.labels.status === 'success').map((s) => s.labels.le);
    t.same(les, ['1', '2', '4', '+Inf'], 'spawn buckets from JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS');
  }
  t.equal((await scrape(th, 'not-a-token')).status, 200, 'a bad token does not matter when no authentication is asked');
});
