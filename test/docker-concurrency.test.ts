import t from 'tap';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker } from './support/docker-test-image.js';
import { startDockerTestHub, waitFor, type DockerTestHub } from './support/docker-test-hub.js';

/**
 * Acceptance 3 of issue #7: ten students spawning at once all reach ready. DockerSpawner serialises
 * every Docker call through one thread; here spawns run concurrently, so ten take far less than ten
 * times one. The wall time and one student's spawn time are printed as a ratio (no timed assertion:
 * the machine is shared). Ten Python servers importing at once are CPU-bound on a small machine, so
 * the time until Docker has started every container is printed too: that part is the spawner's.
 */

/** POSTs a server for `name` and waits until the API says it is ready; resolves with the seconds it took. */
async function spawnReady(th: DockerTestHub, name: string): Promise<number> {
  const t0 = performance.now();
  const res = await th.api('POST', `/users/${name}/server`);
  if (![201, 202].includes(res.status)) throw new Error(`spawn of ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  const ready = await waitFor(async () => (await th.api('GET', `/users/${name}`)).body.servers['']?.ready === true, 130_000);
  if (!ready) throw new Error(`${name} not ready within 130 s`);
  return (performance.now() - t0) / 1000;
}

t.test('ten students spawn at once', async (t) => {
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const STUDENTS = Array.from({ length: 10 }, (_, i) => run.user(`student${i + 1}x`));
  const SOLO = run.user('solo');
  const th = await startDockerTestHub(t, run);
  const created = await th.api('POST', '/users', { usernames: [SOLO, ...STUDENTS] });
  t.equal(created.status, 201, 'students created');

  const startedAt = async (name: string) => Date.parse((await run.docker.getContainer(`jupyter-${name}`).inspect()).State.StartedAt);
  const soloT0 = Date.now();
  const solo = await spawnReady(th, SOLO);
  const soloDocker = (await startedAt(SOLO) - soloT0) / 1000;
  t.pass(`one student alone: ${solo.toFixed(2)} s`);

  const t0 = performance.now();
  const wallT0 = Date.now();
  const each = await Promise.all(STUDENTS.map((name) => spawnReady(th, name)));
  const wall = (performance.now() - t0) / 1000;
  t.equal(each.length, 10, 'all ten reached ready');

  const users = (await th.api('GET', '/users')).body as { name: string; servers: Record<string, { ready: boolean }> }[];
  t.equal(users.filter((u) => STUDENTS.includes(u.name) && u.servers['']?.ready).length, 10, 'the user list shows ten ready servers');
  const containers = (await run.containers()).filter((c) => c.State === 'running');
  t.equal(containers.length, 11, 'eleven running containers (ten students and the solo one), none duplicated');
  t.equal(new Set(containers.map((c) => c.Names[0])).size, 11, 'each with its own name');
  for (const name of STUDENTS) {
    const res = await fetch(`${th.publicUrl}/user/${name}/api`);
    t.equal(res.status, 200, `${name}'s server answers through the proxy`);
  }
  const lastStarted = Math.max(...(await Promise.all(STUDENTS.map(startedAt))));
  const dockerWall = (lastStarted - wallT0) / 1000;
  t.comment(`ten at once: ready after ${wall.toFixed(2)} s (slowest ${Math.max(...each).toFixed(2)} s); one alone: ${solo.toFixed(2)} s; ratio ${(wall / solo).toFixed(2)} (10 = fully serial)`);
  t.comment(`containers running: all ten ${dockerWall.toFixed(2)} s after the requests; one alone ${soloDocker.toFixed(2)} s; ratio ${(dockerWall / soloDocker).toFixed(2)}`);
});
