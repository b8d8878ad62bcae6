import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker, TEST_IMAGE } from './support/docker-test-image.js';
import { startDockerTestHub } from './support/docker-test-hub.js';

/**
 * Acceptance 2 of issue #7: a student logs in, the DockerSpawner creates her container, her server
 * answers through the proxy, and a file she writes through the contents API survives stop + start
 * because it lives in her named volume (the container itself is removed on stop).
 */
t.test('student flow with DockerSpawner', async (t) => {
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const th = await startDockerTestHub(t, run, { spawner: { allowed_images: { standard: TEST_IMAGE, course: TEST_IMAGE.replace(':latest', '') } } });
  const A = run.user('alice');
  const alice = new BrowserClient(th.publicUrl);

  const form = await alice.login(A);
  t.equal(form.status, 200, 'after login alice sees the spawn form');
  t.match(form.text, /<select[^>]*name="image"/, 'with the allowed images as a choice');
  t.match(form.text, /standard/);

  const refused = await alice.submit(form, '/hub/spawn', { image: 'evil/miner' });
  t.equal(refused.status, 400, 'an image that is not allowed is refused on the page');
  t.match(refused.text, /not allowed; choose one of: standard, course/, 'with the choices named');
  t.equal((await run.containers()).length, 0, 'and no container was created');

  const t0 = performance.now();
  const landed = await alice.submit(await alice.get('/hub/spawn'), '/hub/spawn', { image: 'standard' });
  const spawnSeconds = (performance.now() - t0) / 1000;
  t.equal(landed.status, 200, `alice lands in her server (${landed.url})`);
  t.match(new URL(landed.url).pathname, new RegExp(`^/user/${A}/`));
  t.comment(`spawn through the pages took ${spawnSeconds.toFixed(2)} s`);

  const containers = await run.containers();
  t.equal(containers.length, 1, 'one container exists');
  t.same(containers[0]?.Names, [`/jupyter-${A}`], 'named by the default name_template');
  t.equal(containers[0]?.State, 'running');
  t.equal(containers[0]?.Labels['tshub.user'], A);

  const status = await alice.request(`/user/${A}/api/status`);
  t.equal(status.status, 200, `/user/${A}/api/status through the proxy`);
  t.match(JSON.parse(status.text), { kernels: Number });

  const model = await th.api('GET', `/users/${A}`);
  t.equal(model.body.servers[''].ready, true, 'the API shows her server ready');
  t.equal(model.body.servers[''].user_options.image, TEST_IMAGE, 'user_options hold the resolved image');

  const xsrf = await alice.cookieValue('_xsrf', `/user/${A}/`);
  const headers = { 'content-type': 'application/json', ...(xsrf ? { 'x-xsrftoken': xsrf } : {}) };
  const text = `written at ${new Date().toISOString()}`;
  const put = await alice.request(`/user/${A}/api/contents/persist.txt`, { method: 'PUT', headers, body: JSON.stringify({ type: 'file', format: 'text', content: text }) });
  t.equal(put.status, 201, `file written through the contents API (${put.text.slice(0, 120)})`);

  const stop = await th.api('DELETE', `/users/${A}/server`);
  t.ok([202, 204].includes(stop.status), `stop accepted (${stop.status})`);
  for (let i = 0; i < 100 && (await th.api('GET', `/users/${A}`)).body.servers['']; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await run.containers()).length, 0, 'the container is removed on stop (remove: true)');
  t.same(await run.volumes(), [`jupyterhub-user-${A}`], 'her named volume is kept');

  const again = await alice.submit(await alice.get('/hub/spawn'), '/hub/spawn', { image: 'standard' });
  t.equal(again.status, 200, 'she starts again');
  const read = await alice.request(`/user/${A}/api/contents/persist.txt`);
  t.equal(read.status, 200, 'her file is there after stop + start');
  t.equal(JSON.parse(read.text).content, text, 'with the same content');
  const after = await run.containers();
  t.equal(after.length, 1, 'still exactly one container');
  t.not(after[0]?.Id, containers[0]?.Id, 'a new one: the old container was removed, only the volume persisted');
});
