import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import t, { type Test } from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { testImageSpawnerConfig } from './support/docker-test-image.js';
import { startKindHub, type KindHub } from './support/fake-image-spawner.js';
import { LABEL, swarmRun } from './support/swarm-test.js';

/**
 * SwarmSpawner on the real engine (a one-node Swarm on 127.0.0.1, host networking), issue #7:
 * the student flow (one service per server, api/status through the proxy, stop removes the service,
 * files survive stop + start), re-adoption after a hub restart, a rolling update from image A to B in
 * batches of 1 keeping files, clear and fast failures (no node satisfies the placement, image
 * missing), and pre-pull on every node (ok with the local image; a removed tag fails clearly).
 */

const { docker, RUN, ready, tagImage } = swarmRun();
const ADMIN = randomBytes(16).toString('hex');

function swarmHub(t: Test, spawner: Record<string, unknown>, hub: Record<string, unknown> = {}): Promise<KindHub> {
  return startKindHub(t, {
    hub: { api_tokens: { [ADMIN]: 'admin' }, pre_pull_on_start: false, ...hub },
    authenticator: { admin_users: ['admin'] },
    // A prefix and volume of this run's own: the docker suites may run at the same time with the same user names.
    spawner: {
      kind: 'swarm', ...testImageSpawnerConfig(), labels: { [LABEL]: RUN }, prefix: `swarm${RUN}`,
      volumes: { [`swarm${RUN}-{escaped_username}`]: '/home/jovyan/work' }, stop_timeout: 3, start_timeout: 60, http_timeout: 30, ...spawner,
    },
  });
}

async function api(h: KindHub, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.publicUrl}/hub/api${route}`, {
    method, headers: { authorization: `token ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const v = await f();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const servicesOf = (user: string) => docker.listServices({ filters: { label: [`${LABEL}=${RUN}`, `org.tshub.user=${user}`] } });

/** Logs in and follows spawn-pending to the server; a busy machine may need more polls than login() allows. */
async function loginAndLand(c: BrowserClient, user: string) {
  try {
    return await c.login(user);
  } catch (err) {
    if (!/too many hops/.test(String(err))) throw err;
    return c.get(`/user/${user}/`, { maxHops: 600 });
  }
}

/** Writes a file through the server's contents API, as the notebook UI does. */
async function writeFile(c: BrowserClient, user: string, name: string, content: string): Promise<number> {
  const xsrf = (await c.cookieValue('_xsrf', `/user/${user}/`)) ?? '';
  const res = await c.request(`/user/${user}/api/contents/${name}`, {
    method: 'PUT', body: JSON.stringify({ type: 'file', format: 'text', content }), headers: { 'content-type': 'application/json', 'x-xsrftoken': xsrf },
  });
  return res.status;
}
/** Reads a file back; opens the server's page first, as a browser would, so a restarted server logs the user in again. */
const readFile = async (c: BrowserClient, user: string, name: string) => {
  await c.get(`/user/${user}/tree`);
  const page = await c.get(`/user/${user}/api/contents/${name}`);
  return page.status === 200 ? (JSON.parse(page.text) as { content: string }).content : `HTTP ${page.status}`;
};

t.test('student flow, re-adoption, rolling update and files kept', async (t) => {
  if (!(await ready(t))) return;
  const [imageA, imageB] = [await tagImage('a'), await tagImage('b')];
  const h = await swarmHub(t, { image: imageA }, { cleanup_servers: false });
  const alice = new BrowserClient(h.publicUrl);
  const t0 = performance.now();
  const landed = await loginAndLand(alice, 'alice');
  t.comment(`alice's swarm server was ready ${((performance.now() - t0) / 1000).toFixed(1)} s after login`);
  t.match(new URL(landed.url).pathname, /^\/user\/alice\//, 'alice lands in her server');
  const [service] = await servicesOf('alice');
  t.ok(service, 'one Docker service for her server');
  const spec = service!.Spec!.TaskTemplate as Docker.ContainerTaskSpec;
  t.equal(service!.Spec!.Name, `swarm${RUN}-alice`, 'named from name_template');
  const networks = await Promise.all((spec.Networks ?? []).map(async (n) => (await docker.getNetwork(n.Target!).inspect()).Name));
  t.same(networks, ['host'], 'host networking');
  t.equal(spec.RestartPolicy?.Condition, 'none', 'Swarm never restarts it behind the hub');
  t.equal(spec.ContainerSpec?.Image, imageA);
  const progress: string[] = [];
  [...h.hub.ctx.servers.all].find((r) => r.userName === 'alice')!.subscribe((e) => progress.push(e.message))();
  t.match(progress.join('\n'), new RegExp(`Service swarm${RUN}-alice created[\\s\\S]*Server ready`), `service and task states were spawn progress: ${progress.join(' / ')}`);
  t.equal((await alice.request('/user/alice/api/status')).status, 200, '/user/alice/api/status through the proxy');
  t.equal(await writeFile(alice, 'alice', 'notes.txt', 'kept by alice'), 201, 'alice saves a file');
  const bob = new BrowserClient(h.publicUrl);
  await loginAndLand(bob, 'bob');
  t.equal(await writeFile(bob, 'bob', 'notes.txt', 'kept by bob'), 201, 'bob saves a file');

  await h.restart();
  const after = await servicesOf('alice');
  t.same(after.map((s) => s.ID), [service!.ID], 'after a hub restart the same service is re-adopted, none duplicated');
  t.equal((await api(h, 'GET', '/users/alice')).body.servers['']?.ready, true, 'the hub shows it ready');
  t.equal((await alice.request('/user/alice/api/status')).status, 200, 'and routes to it');

  const rollout = await api(h, 'POST', '/images/rollout', { image: imageB, batch_size: 1 });
  t.equal(rollout.status, 202);
  t.equal(rollout.body.total, 2, 'both servers run image A');
  const done = await until('the rollout', async () => {
    const r = await api(h, 'GET', '/images/rollout');
    return r.body.state !== 'running' && r.body;
  }, 120_000);
  t.match(done, { state: 'done', done: 2, failed: 0 }, JSON.stringify(done.servers));
  for (const [user, client] of [['alice', alice], ['bob', bob]] as const) {
    const [s] = await servicesOf(user);
    t.equal((s?.Spec?.TaskTemplate as Docker.ContainerTaskSpec | undefined)?.ContainerSpec?.Image, imageB, `${user}'s server runs image B`);
    t.equal(await readFile(client, user, 'notes.txt'), `kept by ${user}`, `${user}'s file survived the rollout`);
  }

  const t1 = performance.now();
  t.ok([202, 204].includes((await api(h, 'DELETE', '/users/alice/server')).status), 'stop');
  await until('alice stopped', async () => !(await api(h, 'GET', '/users/alice')).body.servers['']);
  t.comment(`stop took ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  t.same(await servicesOf('alice'), [], 'stop removes the service');
  const restarted = await api(h, 'POST', '/users/alice/server');
  t.ok([201, 202].includes(restarted.status), 'start again');
  await until('alice ready', async () => (await api(h, 'GET', '/users/alice')).body.servers['']?.ready);
  t.equal(await readFile(alice, 'alice', 'notes.txt'), 'kept by alice', 'the file in her volume survived stop + start');
});

t.test('clear, fast failures (placement, image missing); pre-pull with pull_policy never', async (t) => {
  if (!(await ready(t))) return;
  const tag = await tagImage('never');
  const h = await swarmHub(t, { image: tag, placement: ['node.labels.tshub-gpu==yes'], scheduling_timeout: 2 }, { pre_pull_on_start: true });
  const prePulled = async () => {
    const r = await api(h, 'GET', '/images/pre-pull');
    return r.body.state !== 'running' && r.body;
  };
  t.match(await until('the start-up pre-pull', prePulled), { state: 'done', lines: [{ image: tag, ok: true, message: 'image present' }] }, 'pull_policy never: the local image is reported present');

  t.equal((await api(h, 'POST', '/users', { usernames: ['carol', 'dan'] })).status, 201);
  const t0 = performance.now();
  const res = await api(h, 'POST', '/users/carol/server');
  const seconds = (performance.now() - t0) / 1000;
  t.equal(res.status, 500, 'the spawn request fails');
  t.match(res.body.message, /No node can run this server: no suitable node \(scheduling constraints not satisfied/, 'and names the reason');
  const failed = [...h.hub.ctx.servers.all].find((r) => r.userName === 'carol');
  t.equal(failed?.failure?.reason, 'unschedulable');
  t.comment(`unsatisfiable placement failed after ${seconds.toFixed(1)} s (scheduling_timeout 2 s)`);
  t.ok(seconds < 30, 'and fails fast instead of waiting for start_timeout (60 s)');
  t.same(await servicesOf('carol'), [], 'nothing is left behind');

  // The test-only tag goes away: spawns and pre-pulls say so, and nothing is pulled or created.
  await docker.getImage(tag).remove();
  const missing = await api(h, 'POST', '/users/dan/server');
  t.equal(missing.status, 500);
  t.match(missing.body.message, new RegExp(`The image ${tag} is not on this Docker engine and spawner.pull_policy is never`));
  t.same(await servicesOf('dan'), [], 'no service was created');
  t.equal((await api(h, 'POST', '/images/pre-pull')).status, 202);
  t.match(await until('the second pre-pull', prePulled), { state: 'failed', failures: 1, lines: [{ image: tag, ok: false, message: 'image not present and pull_policy is never: nothing was pulled' }] });
});

t.test('pre-pull on the real engine, and image missing on the node (pull_policy skip)', async (t) => {
  if (!(await ready(t))) return;
  const local = await tagImage('local');
  const h = await swarmHub(t, { image: local, pull_policy: 'skip' }, { pre_pull_on_start: true });
  const first = await until('the start-up pre-pull', async () => {
    const r = await api(h, 'GET', '/images/pre-pull');
    return r.body.state !== 'running' && r.body;
  });
  const node = ((await docker.info()) as { Name: string }).Name;
  t.match(first, { state: 'done', trigger: 'start', failures: 0 });
  t.match(first.lines, [{ image: local, node, ok: true, progress: 100, message: 'image present' }], 'every node reports the image');
  t.same(await docker.listServices({ filters: { label: [`${LABEL}=${RUN}`, 'org.tshub.prepull'] } }), [], 'the pre-pull service is removed afterwards');

  const gone = await tagImage('gone2');
  await docker.getImage(gone).remove();
  await api(h, 'POST', '/images/rollout', { image: gone });
  t.equal((await api(h, 'POST', '/images/pre-pull')).status, 202);
  const second = await until('the second pre-pull', async () => {
    const r = await api(h, 'GET', '/images/pre-pull');
    return r.body.state !== 'running' && r.body;
  });
  t.match(second, { state: 'failed', trigger: 'api', failures: 1 });
  t.match(second.lines[0], { image: gone, node, ok: false, message: /pull failed: .*(No such image|pull access denied|not found)/i }, 'the node says the pull failed and why');

  t.equal((await api(h, 'POST', '/users', { usernames: ['erin'] })).status, 201);
  const spawn = await api(h, 'POST', '/users/erin/server');
  t.equal(spawn.status, 500);
  t.match(spawn.body.message, new RegExp(`The image ${gone} is not available on node ${node}`), 'a spawn on a missing image fails with the engine\'s reason');
  t.same(await servicesOf('erin'), [], 'and its service is removed');
});
