import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import t, { type Test } from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { testImageSpawnerConfig } from './support/docker-test-image.js';
import { startKindHub, type KindHub } from './support/fake-image-spawner.js';
import { LABEL, swarmRun } from './support/swarm-test.js';

/**
 * SwarmSpawner's image options on the real one-node Swarm: allowed_images as a choice on the spawn
 * form (the chosen image runs, anything else is a 400 with nothing created) and pull_policy as the
 * Swarm defines it: never fails before any service exists when the manager lacks the image; always
 * pulls on every eligible node first and fails within seconds with the pull's reason (this engine has
 * no registry, so a name that exists nowhere cannot be pulled).
 */

const { docker, RUN, ready, tagImage: tag } = swarmRun();
const ADMIN = randomBytes(16).toString('hex');
const runServices = (...labels: string[]) => docker.listServices({ filters: { label: [`${LABEL}=${RUN}`, ...labels] } });
/** Another name for the local test image, so the service spec shows which choice ran. */
const tagImage = (name: string) => tag(`img-${name}`);

interface SwarmHub extends KindHub {
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The spawn progress messages a server's runtime has emitted so far. */
  progress(user: string): string[];
}

async function swarmHub(t: Test, spawner: Record<string, unknown>): Promise<SwarmHub> {
  const h = await startKindHub(t, {
    hub: { api_tokens: { [ADMIN]: 'admin' }, pre_pull_on_start: false },
    authenticator: { admin_users: ['admin'] },
    spawner: {
      kind: 'swarm', ...testImageSpawnerConfig(), labels: { [LABEL]: RUN }, prefix: `img${RUN}`,
      volumes: { [`img${RUN}-{escaped_username}`]: '/home/jovyan/work' }, stop_timeout: 2, start_timeout: 60, http_timeout: 30, ...spawner,
    },
  });
  return Object.assign(h, {
    async api(method: string, route: string, body?: unknown) {
      const res = await fetch(`${h.publicUrl}/hub/api${route}`, {
        method, headers: { authorization: `token ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    progress(user: string) {
      const messages: string[] = [];
      [...h.hub.ctx.servers.all].find((r) => r.userName === user)?.subscribe((e) => messages.push(e.message))();
      return messages;
    },
  });
}

/** A spawn through the REST API, timed. */
async function timedSpawn(h: SwarmHub, user: string, body?: unknown) {
  const t0 = performance.now();
  const res = await h.api('POST', `/users/${user}/server`, body);
  return { ...res, seconds: (performance.now() - t0) / 1000 };
}

t.test('allowed_images: offered on the spawn form, the chosen one runs, others are refused', async (t) => {
  if (!(await ready(t))) return;
  const [a, b] = [await tagImage('a'), await tagImage('b')];
  const h = await swarmHub(t, { image: a, allowed_images: { 'Course A': a, 'Course B': b }, pull_policy: 'ifnotpresent' });
  t.equal((await h.api('POST', '/users', { usernames: ['bob'] })).status, 201);

  const alice = new BrowserClient(h.publicUrl);
  const form = await alice.login('alice');
  t.match(new URL(form.url).pathname, /^\/hub\/spawn/, 'with a choice of images, login leads to the spawn form');
  const page = await alice.get('/hub/spawn');
  t.equal(page.status, 200, 'GET /hub/spawn');
  const options = [...page.text.matchAll(/<option value="([^"]+)"[^>]*>([^<]+)<\/option>/g)].map((m) => [m[1], m[2]]);
  t.same(options, [['Course A', `Course A (${a})`], ['Course B', `Course B (${b})`]], 'the form offers every allowed image');
  t.match(page.text, /<select[^>]*name="image"/);

  const xsrf = /name="_xsrf" value="([^"]*)"/.exec(page.text)?.[1] ?? '';
  const refused = await alice.request('/hub/spawn', { method: 'POST', body: new URLSearchParams({ image: 'evil/miner:latest', _xsrf: xsrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(refused.status, 400, 'an image outside the list posted through the form is an error page');
  t.match(refused.text, /not allowed; choose one of: Course A, Course B/);

  const chosen = await alice.request('/hub/spawn', { method: 'POST', body: new URLSearchParams({ image: 'Course B', _xsrf: xsrf }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(chosen.status, 302, 'choosing Course B starts the server');
  const [service] = await runServices('org.tshub.user=alice');
  t.equal((service?.Spec?.TaskTemplate as Docker.ContainerTaskSpec | undefined)?.ContainerSpec?.Image, b, 'her service runs the chosen image');
  const t0 = performance.now();
  for (const deadline = Date.now() + 50_000; Date.now() < deadline && !(await h.api('GET', '/users/alice')).body.servers['']?.ready;) await new Promise((r) => setTimeout(r, 200));
  t.comment(`the chosen image was ready ${((performance.now() - t0) / 1000).toFixed(1)} s after the form post returned`);
  const model = (await h.api('GET', '/users/alice')).body.servers[''];
  t.ok(model?.ready, 'and it becomes ready (pull_policy ifnotpresent with the local image)');
  const landed = await alice.get('/user/alice/');
  t.match(new URL(landed.url).pathname, /^\/user\/alice\//, 'she lands in her server');
  t.equal((await alice.request('/user/alice/api/status')).status, 200, 'which answers through the proxy');

  const bad = await timedSpawn(h, 'bob', { image: 'evil/miner:latest' });
  t.equal(bad.status, 400, 'an image outside allowed_images through the REST API');
  t.match(bad.body, { status: 400, message: /Image "evil\/miner:latest" is not allowed; choose one of: Course A, Course B/ });
  t.same(await runServices('org.tshub.user=bob'), [], 'no service was created for it');
  t.notOk((await h.api('GET', '/users/bob')).body.servers[''], 'and no server is pending');
  const byImage = await timedSpawn(h, 'bob', { image: a });
  t.ok([201, 202].includes(byImage.status), 'an allowed image named by its image rather than its label is accepted');
});

t.test('pull_policy never: an image the manager lacks fails before any service exists', async (t) => {
  if (!(await ready(t))) return;
  const a = await tagImage('a');
  const retired = await tagImage('retired');
  await docker.getImage(retired).remove();
  const h = await swarmHub(t, { image: a, allowed_images: { current: a, retired }, pull_policy: 'never' });
  t.equal((await h.api('POST', '/users', { usernames: ['carol'] })).status, 201);
  const res = await timedSpawn(h, 'carol', { image: 'retired' });
  t.comment(`the spawn failed after ${res.seconds.toFixed(1)} s`);
  t.equal(res.status, 500, 'the spawn fails');
  const clear = new RegExp(`The image ${retired} is not on this Docker engine and spawner.pull_policy is never \\(checked on the Swarm manager`);
  t.match(res.body, { status: 500, message: clear }, 'the API says which image, which policy and where it looked');
  t.ok(res.seconds < 5, 'at once');
  t.match(h.progress('carol').join('\n'), clear, 'the spawn progress says so too');
  t.same(await runServices(), [], 'no service remains');
});

t.test('pull_policy always: a nonexistent image fails within seconds with the pull\'s reason', async (t) => {
  if (!(await ready(t))) return;
  const image = `tshub-test-nonexistent-${RUN}:1`;
  const h = await swarmHub(t, { image, pull_policy: 'always' });
  t.equal((await h.api('POST', '/users', { usernames: ['dan'] })).status, 201);
  const res = await timedSpawn(h, 'dan');
  const node = ((await docker.info()) as { Name: string }).Name;
  t.comment(`the spawn failed after ${res.seconds.toFixed(1)} s (start_timeout 60 s): ${res.body?.message}`);
  t.equal(res.status, 500, 'the spawn fails');
  t.match(res.body.message, new RegExp(`pull_policy is always and the image ${image} could not be pulled on node ${node}: pull failed: No such image`), 'naming the node and its result');
  t.match(res.body.message, new RegExp(`the pull on ${node} says: .*(no such host|not found|denied|does not exist|dial tcp)`, 'i'), "with the engine's reason for the failed pull");
  t.ok(res.seconds < 15, 'within seconds, not at start_timeout');
  const progress = h.progress('dan').join('\n');
  t.match(progress, `Pulling ${image} on every eligible node`, 'the pull is spawn progress');
  t.match(progress, new RegExp(`Node ${node}: pull failed`), 'with the per-node result');
  t.same(await runServices(), [], 'neither the pull service nor a server service remains');
  t.same(await docker.listServices({ filters: { label: [`org.tshub.prepull=${image}`] } }), [], 'the global pull service is removed');
});
