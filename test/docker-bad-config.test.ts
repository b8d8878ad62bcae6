import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { pino } from 'pino';
import { BrowserClient } from './support/browser-client.js';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker, TEST_IMAGE, testImageSpawnerConfig } from './support/docker-test-image.js';
import { startDockerTestHub, waitFor, type DockerTestHub } from './support/docker-test-hub.js';

/**
 * Acceptance 7 of issue #7: an unknown image with pull_policy never and a bad mem_limit give clear
 * errors on the spawn page and in the API, fast, while the hub keeps serving the others.
 */
const MISSING = 'tshub-no-such-image:1';

const ready = (th: DockerTestHub, name: string) => waitFor(async () => (await th.api('GET', `/users/${name}`)).body.servers['']?.ready === true, 130_000);
const text = (html: string) => html.replace(/<[^>]*>/g, ' ').replace(/&quot;|&#34;/g, '"').replace(/&#39;/g, "'").replace(/\s+/g, ' ');

t.test('bad images and limits fail clearly; others keep working', async (t) => {
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const ALICE = run.user('alice');
  const BOB = run.user('bob');
  const CAROL = run.user('carol');
  const th = await startDockerTestHub(t, run, { hub: { cleanup_servers: false }, spawner: { allowed_images: { good: TEST_IMAGE, missing: MISSING } } });
  await th.api('POST', '/users', { usernames: [BOB, CAROL] });
  t.equal((await th.api('POST', `/users/${BOB}/server`, { image: 'good' })).status >= 201, true, 'bob spawns the good image');
  t.ok(await ready(th, BOB), 'bob is ready');

  const alice = new BrowserClient(th.publicUrl);
  const form = await alice.login(ALICE);
  const t0 = performance.now();
  const page = await alice.submit(form, '/hub/spawn', { image: 'missing' });
  const seconds = (performance.now() - t0) / 1000;
  t.equal(page.status, 500, 'the spawn ends on an error page');
  t.match(text(page.text), `The image ${MISSING} is not on this Docker engine and pull_policy is 'never'`, 'which names the image and the policy');
  t.comment(`image-missing reported after ${seconds.toFixed(2)} s`);
  t.ok(seconds < 10, 'fast: no start_timeout wait');

  const api = await th.api('POST', `/users/${CAROL}/server`, { image: 'missing' });
  t.equal(api.status, 500, 'the API answers with an error');
  t.match(api.body, { status: 500, message: new RegExp(`Spawn failed: The image ${MISSING} is not on this Docker engine`) }, 'JupyterHub-shaped, with the same message');
  const refused = await th.api('POST', `/users/${CAROL}/server`, { image: 'docker.io/evil:latest' });
  t.same(refused.body, { status: 400, message: 'Image "docker.io/evil:latest" is not allowed; choose one of: good, missing' }, 'an image not allowed is a 400');
  t.equal((await fetch(`${th.publicUrl}/user/${BOB}/api`)).status, 200, 'bob is still served');

  // mem_limit 1K passes the config schema (it is a size) but Docker refuses it: every new spawn
  // must say so, while bob's server (re-adopted after the restart) keeps running.
  await th.reconfigure({ mem_limit: '1K' });
  const badLimit = await th.api('POST', `/users/${CAROL}/server`, { image: 'good' });
  t.equal(badLimit.status, 500, 'a spawn with mem_limit 1K fails');
  t.match(badLimit.body.message, /Docker refused to create the container: .*[Mm]inimum memory limit/, `with Docker's reason: ${badLimit.body.message}`);
  const page2 = await alice.submit(await alice.get('/hub/spawn'), '/hub/spawn', { image: 'good' });
  t.match(text(page2.text), /Docker refused to create the container/, 'and the spawn page shows it');
  t.equal((await fetch(`${th.publicUrl}/user/${BOB}/api`)).status, 200, 'bob is still served');
  t.equal((await run.containers()).length, 1, 'no container is left from the failed spawns');
  t.equal((await th.api('GET', `/users/${BOB}`)).body.servers['']?.ready, true, 'the API still shows bob ready');
});

t.test('limits Docker cannot honour stop the hub at start-up, naming the key', async (t) => {
  if (!(await needDocker(t))) return;
  const dataDir = path.join(t.testdir(), 'data');
  const base = { authenticator: { kind: 'dummy', allow_all: true }, hub: { db_url: 'pglite:memory:', data_dir: dataDir } };
  const bad = validateConfig({ ...base, spawner: { kind: 'docker', ...testImageSpawnerConfig(), mem_limit: '2X' } }, defaultRegistry());
  t.notOk(bad.ok, 'mem_limit 2X is refused by validation');
  t.match(bad.ok ? [] : bad.errors, [/^spawner\.mem_limit: /], 'naming spawner.mem_limit');

  const cfg = validateConfig({ ...base, spawner: { kind: 'docker', ...testImageSpawnerConfig(), mem_limit: '1G', mem_guarantee: '2G', name_template: 'jupyter {username}' } }, defaultRegistry());
  if (!cfg.ok) return t.fail(cfg.errors.join('; '));
  const err = await buildHub({ config: cfg.config, logger: pino({ level: 'silent' }) }).then(() => null, (e: Error) => e);
  t.ok(err, 'the hub refuses to start');
  t.notOk(existsSync(dataDir), 'and writes nothing (no data dir, no cookie secret)');
  t.match(err?.message, /spawner\.mem_guarantee: .* more than spawner\.mem_limit/, 'naming mem_guarantee > mem_limit');
  t.match(err?.message, /spawner\.name_template: gives "jupyter student"/, 'and the bad name_template, in one report');
});
