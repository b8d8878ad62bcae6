import t from 'tap';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker } from './support/docker-test-image.js';
import { startDockerTestHub, waitFor, type DockerTestHub } from './support/docker-test-hub.js';

/**
 * Acceptance 4 of issue #7: a restarted hub (cleanup_servers: false) re-adopts the running containers
 * without creating new ones, and a container removed with `docker rm -f` behind the hub's back is
 * shown stopped within poll_interval, its proxy route gone.
 */
const POLL_INTERVAL = 1;

async function spawn(th: DockerTestHub, name: string): Promise<void> {
  const res = await th.api('POST', `/users/${name}/server`);
  if (![201, 202].includes(res.status)) throw new Error(`spawn of ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  if (!(await waitFor(async () => (await th.api('GET', `/users/${name}`)).body.servers['']?.ready === true, 130_000))) throw new Error(`${name} not ready`);
}

const routes = async (th: DockerTestHub) => Object.keys((await th.api('GET', '/proxy')).body as Record<string, unknown>);

t.test('hub restart re-adopts containers; a removed container is noticed', async (t) => {
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const ALICE = run.user('alice');
  const BOB = run.user('bob');
  const th = await startDockerTestHub(t, run, { hub: { cleanup_servers: false }, spawner: { poll_interval: POLL_INTERVAL } });
  await th.api('POST', '/users', { usernames: [ALICE, BOB] });
  await Promise.all([spawn(th, ALICE), spawn(th, BOB)]);
  const before = (await run.containers()).map((c) => `${c.Names[0]} ${c.Id}`).sort();
  t.equal(before.length, 2, 'two containers before the restart');

  await th.restart(async () => {
    // The managed proxy stops with the hub; the container keeps serving on its own port.
    const alice = (await run.containers()).find((c) => c.Names[0] === `/jupyter-${ALICE}`)!;
    const env = (await run.docker.getContainer(alice.Id).inspect()).Config.Env;
    const serviceUrl = env.find((e) => e.startsWith('JUPYTERHUB_SERVICE_URL='))!.split('=')[1]!;
    const down = await fetch(`${serviceUrl}api`).then((r) => r.status, () => 0);
    t.equal(down, 200, `with the hub down, alice's container still serves at ${serviceUrl}`);
  });
  const after = (await run.containers()).map((c) => `${c.Names[0]} ${c.Id}`).sort();
  t.same(after, before, 'after the restart: the same two containers, none created or removed');
  for (const name of [ALICE, BOB]) {
    const model = (await th.api('GET', `/users/${name}`)).body;
    t.equal(model.servers['']?.ready, true, `${name}'s server is re-adopted as ready`);
    t.equal((await fetch(`${th.publicUrl}/user/${name}/api`)).status, 200, `${name}'s server answers through the proxy`);
  }
  t.ok((await routes(th)).includes(`/user/${BOB}/`), 'bob has a route');

  const bob = (await run.containers()).find((c) => c.Names[0] === `/jupyter-${BOB}`)!;
  await run.docker.getContainer(bob.Id).remove({ force: true });
  const t0 = performance.now();
  const gone = await waitFor(async () => !(await th.api('GET', `/users/${BOB}`)).body.servers[''], 10_000);
  const seconds = (performance.now() - t0) / 1000;
  t.ok(gone, `bob's server shows stopped ${seconds.toFixed(2)} s after docker rm -f (poll_interval ${POLL_INTERVAL} s)`);
  t.comment(`docker rm -f noticed after ${seconds.toFixed(2)} s with poll_interval ${POLL_INTERVAL} s`);
  // One poll_interval, plus the poll's own Docker calls and this test's API round trips, which take
  // over a second on a loaded two-core machine.
  t.ok(seconds <= POLL_INTERVAL * 1.1 + 2.5, 'within poll_interval (plus the round trips)');
  t.notOk((await routes(th)).includes(`/user/${BOB}/`), 'and his proxy route is gone');
  t.ok((await routes(th)).includes(`/user/${ALICE}/`), 'alice keeps hers');
  t.equal((await fetch(`${th.publicUrl}/user/${ALICE}/api`)).status, 200, 'alice is unaffected');

  const respawn = await th.api('POST', `/users/${BOB}/server`);
  t.ok([201, 202].includes(respawn.status), 'bob can start again');
  t.ok(await waitFor(async () => (await th.api('GET', `/users/${BOB}`)).body.servers['']?.ready === true, 130_000), 'and is ready');
  t.equal((await run.containers()).length, 2, 'two containers again');
});
