import { randomBytes } from 'node:crypto';
import t from 'tap';
import { FakeImageShared, startKindHub, type KindHub } from './support/fake-image-spawner.js';

/**
 * The image pre-pull and rolling-update API (issue #7) against a real hub and proxy, with a spawner
 * kind whose servers are in-process HTTP servers (test/support/fake-image-spawner.ts): pre-pull runs
 * in the background at start and on demand with per-image, per-node progress; a rollout restarts
 * running servers onto the new image batch by batch, keeps user_options, and survives a hub restart.
 */

const ADMIN = randomBytes(16).toString('hex');
const USER = randomBytes(16).toString('hex');
const auth = { hub: { api_tokens: { [ADMIN]: 'admin', [USER]: 'zoe' } }, authenticator: { admin_users: ['admin'] } };

async function api(h: KindHub, method: string, route: string, body?: unknown, token = ADMIN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.publicUrl}/hub/api${route}`, {
    method,
    headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const v = await f();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const shared = (h: KindHub) => h.hub.ctx.servers.deps.shared as FakeImageShared;

t.test('pre-pull runs in the background at start, and on demand, with progress per image and node', async (t) => {
  const h = await startKindHub(t, { ...auth, spawner: { kind: 'fake-image', image: 'fake/nb:1', nodes: ['n1', 'n2'], extra_images: ['fake/gone:1'], missing_images: ['fake/gone:1'], hold_pull: true } });
  // The hub answered before the pull finished: start-up was not delayed.
  const early = await api(h, 'GET', '/images/pre-pull');
  t.equal(early.status, 200);
  t.equal(early.body.state, 'running', 'the start-up pre-pull is still running once the hub serves requests');
  t.equal(early.body.trigger, 'start');
  t.match(early.body.lines, [{ image: 'fake/nb:1', node: 'n1', progress: 0, message: 'pulling' }], 'progress is visible while it runs');
  shared(h).releasePull();
  const done = await until('pre-pull to finish', async () => {
    const r = await api(h, 'GET', '/images/pre-pull');
    return r.body.state !== 'running' && r.body;
  });
  t.equal(done.state, 'failed', 'one image could not be pulled');
  t.equal(done.lines.length, 4, 'one line per image and node');
  t.same(done.lines.filter((l: any) => l.ok).map((l: any) => `${l.image}@${l.node}`).sort(), ['fake/nb:1@n1', 'fake/nb:1@n2']);
  const bad = done.lines.find((l: any) => l.image === 'fake/gone:1' && l.node === 'n2');
  t.equal(bad.ok, false);
  t.match(bad.message, /manifest for fake\/gone:1 not found/, 'the failure says why');
  t.equal(done.failures, 2);

  const again = await api(h, 'POST', '/images/pre-pull');
  t.equal(again.status, 202);
  t.equal(again.body.state, 'running');
  t.equal(again.body.trigger, 'api');
  const twice = await api(h, 'POST', '/images/pre-pull');
  t.equal(twice.body.started, again.body.started, 'a second request joins the running pre-pull');
  await until('on-demand pre-pull', async () => (await api(h, 'GET', '/images/pre-pull')).body.state !== 'running');

  const user = await api(h, 'POST', '/images/pre-pull', undefined, USER);
  t.equal(user.status, 403);
  t.match(user.body.message, /requires any of \[admin:servers\]/);
  const anon = await fetch(`${h.publicUrl}/hub/api/images/pre-pull`);
  t.same(await anon.json(), { status: 403, message: 'Missing or invalid credentials.' });
});

t.test('a kind without pre-pull or image changes answers 404 with a clear message', async (t) => {
  const h = await startKindHub(t, { ...auth, spawner: { kind: 'simple' } });
  for (const [method, route] of [['GET', '/images/pre-pull'], ['POST', '/images/pre-pull'], ['GET', '/images/rollout'], ['POST', '/images/rollout']] as const) {
    const r = await api(h, method, route, method === 'POST' && route.endsWith('rollout') ? { image: 'x:1' } : undefined);
    t.equal(r.status, 404, `${method} ${route}`);
    t.match(r.body.message, /spawner kind 'simple' cannot/);
  }
});

t.test('rollout: running servers restart onto the new image one batch at a time', async (t) => {
  const h = await startKindHub(t, { hub: { ...auth.hub, cleanup_servers: false, pre_pull_on_start: false }, authenticator: auth.authenticator, spawner: { kind: 'fake-image', image: 'fake/nb:1', start_ms: 100 } });
  const users = ['alice', 'bob', 'carol'];
  t.equal((await api(h, 'POST', '/users', { usernames: [...users, 'dave'] })).status, 201);
  for (const u of users) t.equal((await api(h, 'POST', `/users/${u}/server`, { course: `c-${u}` })).status, 201, `${u} started`);
  t.same((await api(h, 'GET', '/images/rollout')).body, { state: 'idle', total: 0, done: 0, failed: 0, servers: [] });
  t.same((await api(h, 'GET', '/images/pre-pull')).body, { state: 'idle', failures: 0, lines: [] }, 'pre_pull_on_start false: nothing ran');

  for (const [body, message] of [
    [{}, /"image" must be a non-empty string/],
    [{ image: '' }, /"image" must be a non-empty string/],
    [{ image: 'a b' }, /not a valid image reference/],
    [{ image: 'fake/nb:2', batch_size: 0 }, /"batch_size" must be a whole number/],
    [{ image: 'fake/nb:2', batch_size: 'two' }, /"batch_size" must be a whole number/],
    [{ image: 'fake/nb:2', force: true }, /Unknown field in the body: force/],
    [['fake/nb:2'], /must be a JSON object/],
    ['{"image": ', /Invalid JSON/],
  ] as const) {
    const r = await api(h, 'POST', '/images/rollout', body);
    t.equal(r.status, 400, `400 for ${JSON.stringify(body)}`);
    t.match(r.body.message, message);
  }
  t.equal((await api(h, 'POST', '/images/rollout', { image: 'fake/nb:2' }, USER)).status, 403, 'not for users');

  const events = shared(h).events;
  const before = events.length;
  const started = await api(h, 'POST', '/images/rollout', { image: 'fake/nb:2', batch_size: 1 });
  t.equal(started.status, 202);
  t.equal(started.body.total, 3);
  t.same(started.body.servers.map((s: any) => s.from), ['fake/nb:1', 'fake/nb:1', 'fake/nb:1']);
  const busy = await api(h, 'POST', '/images/rollout', { image: 'fake/nb:3' });
  t.equal(busy.status, 409, 'one rollout at a time');
  t.match(busy.body.message, /still running/);
  const done = await until('rollout to finish', async () => {
    const r = await api(h, 'GET', '/images/rollout');
    return r.body.state !== 'running' && r.body;
  });
  t.match(done, { state: 'done', image: 'fake/nb:2', batch_size: 1, total: 3, done: 3, failed: 0 });
  const during = events.slice(before);
  t.equal(during.filter((e) => e.kind === 'stop').length, 3);
  t.ok(during.every((e) => e.running >= 2), 'with batch_size 1, at most one of three servers is down at any time');
  t.same(during.filter((e) => e.kind === 'start').map((e) => e.image), ['fake/nb:2', 'fake/nb:2', 'fake/nb:2']);
  for (const u of users) {
    const rt = [...h.hub.ctx.servers.all].find((r) => r.userName === u)!;
    t.ok(rt.ready, `${u} runs again`);
    t.same(rt.spawner?.state(), { image: 'fake/nb:2' }, `${u} is on the new image`);
    t.same(rt.userOptions, { course: `c-${u}` }, `${u} kept the options they started with`);
  }
  t.equal((await api(h, 'POST', '/images/rollout', { image: 'fake/nb:2' })).body.total, 0, 'servers already on the image are left alone');

  // The choice is kept: after a hub restart, new servers still start from the new image.
  await h.restart();
  t.equal((await api(h, 'POST', '/users/dave/server')).status, 201);
  const dave = [...h.hub.ctx.servers.all].find((r) => r.userName === 'dave')!;
  t.same(dave.spawner?.state(), { image: 'fake/nb:2' }, 'a restarted hub re-applies the rollout image');
});
