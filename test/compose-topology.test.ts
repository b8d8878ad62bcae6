import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { pino } from 'pino';
import { parse } from 'yaml';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { BrowserClient } from './support/browser-client.js';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker, testImageSpawnerConfig } from './support/docker-test-image.js';
import { freePort, portInUse } from './support/free-port.js';
import { hasSingleuser, need, postgresUrl } from './support/requirements.js';
import { createTestDatabase } from './support/test-database.js';

// Acceptance 6 of issue #7, second half: the topology of docker-compose.yml without compose. The hub
// runs from deploy/docker/tshub.yaml with only what compose provides replaced: the `db` service by the
// test Postgres, the `proxy` service by a configurable-http-proxy process started here, the `tshub`
// network and its service names by the host's network on 127.0.0.1, the course image by the local
// test image, and the local accounts by the dummy login (no admin has to create the student first).

const chpBin = path.join(path.dirname(createRequire(import.meta.url).resolve('configurable-http-proxy/package.json')), 'bin', 'configurable-http-proxy');

type Section = Record<string, unknown>;

t.test('the docker-compose topology: hub, Postgres, separate proxy, DockerSpawner', async (t) => {
  if (!need(t, postgresUrl() !== '', 'Postgres (TSHUB_TEST_POSTGRES_URL, see scripts/test-postgres.sh)')) return;
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser')) return;
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const db = await createTestDatabase(postgresUrl());
  t.teardown(() => db.drop());
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-topology-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const [hubPort, publicPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const token = 'p'.repeat(32);

  // The `proxy` service, with the arguments docker-compose.yml gives it (addresses aside).
  const env = { ...process.env, CONFIGPROXY_AUTH_TOKEN: token };
  // Through env(1) without NODE_OPTIONS: tap's loaders must not reach the proxy.
  const chp = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, chpBin, '--ip=127.0.0.1', `--port=${publicPort}`, '--api-ip=127.0.0.1', `--api-port=${apiPort}`, `--default-target=${hubUrl}`, `--error-target=${hubUrl}/hub/error`, '--log-level=warn'], { env, stdio: 'ignore' });
  t.teardown(() => void chp.kill('SIGTERM'));
  for (let i = 0; i < 200 && !(await portInUse(apiPort)); i++) await new Promise((r) => setTimeout(r, 50));

  const file = parse(readFileSync('deploy/docker/tshub.yaml', 'utf8')) as Record<string, Section>;
  const spawner = file.spawner as Section;
  const test = testImageSpawnerConfig();
  const raw = {
    ...file,
    hub: { ...file.hub, hub_ip: '127.0.0.1', hub_port: hubPort, hub_connect_url: hubUrl, data_dir: dataDir, db_url: db.url, bind_url: `http://127.0.0.1:${publicPort}` },
    authenticator: { kind: 'dummy', allow_all: true },
    spawner: {
      ...spawner,
      ...test,
      // The compose file's per-user volume stays; the test image's host mounts come on top.
      volumes: spawner.volumes,
      extra_create_kwargs: { Labels: run.labels },
    },
    proxy: { ...file.proxy, api_url: `http://127.0.0.1:${apiPort}`, auth_token: token, extra_routes: { '/': hubUrl } },
  };
  t.equal(file.proxy?.should_start, false, 'as in compose, the hub starts no proxy');
  t.equal(spawner.kind, 'docker');
  const checked = validateConfig(raw, defaultRegistry());
  if (!checked.ok) throw new Error(checked.errors.join('; '));

  const hub = await buildHub({ config: checked.config, logger: pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' }) });
  let closed = false;
  t.teardown(async () => {
    if (closed) return;
    await Promise.all([...hub.ctx.servers.all].map((rt) => hub.ctx.servers.stop(rt, { now: true })));
    await hub.close();
  });
  const started = await hub.start({ hubPort });
  t.equal(started.proxy, null, 'no proxy process of its own');

  const publicUrl = `http://127.0.0.1:${publicPort}`;
  t.equal((await fetch(`${publicUrl}/hub/health`)).status, 200, 'the hub answers through the separate proxy');
  const ada = new BrowserClient(publicUrl);
  const t0 = performance.now();
  // login() follows the spawn-pending page for about 10 s; on a loaded CI machine the spawn can take
  // longer, so keep following (the hub gives up itself after spawner.start_timeout).
  let landed = await ada.login('ada').catch((err: Error) => (t.comment(`still spawning: ${err.message}`), null));
  for (let i = 0; i < 12 && !landed?.url.includes('/user/ada/'); i++) landed = await ada.get('/user/ada/').catch(() => null);
  if (!landed) throw new Error('ada never reached her server');
  t.comment(`login + spawn took ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  t.equal(landed.status, 200);
  t.match(new URL(landed.url).pathname, /^\/user\/ada\//, 'the student lands in her server');
  const status = await ada.request('/user/ada/api/status');
  t.equal(status.status, 200, '/user/ada/api/status through the proxy');

  const containers = await run.containers();
  t.equal(containers.length, 1, 'one container');
  t.equal(containers[0]?.State, 'running');
  t.ok(containers[0]?.Mounts.some((m) => m.Name === 'jupyterhub-user-ada' && m.Destination === '/home/jovyan/work'), "her volume from the compose config's volumes, at notebook_dir");

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const users = await client.query<{ name: string }>('SELECT name FROM users');
  await client.end();
  t.same(users.rows.map((r) => r.name), ['ada'], 'the hub keeps its state in Postgres');

  const routes = (await (await fetch(`http://127.0.0.1:${apiPort}/api/routes`, { headers: { authorization: `token ${token}` } })).json()) as Record<string, { target?: string }>;
  t.equal(routes['/']?.target, hubUrl, "the proxy's hub route is proxy.extra_routes['/'], as in compose");
  t.ok(routes['/user/ada'], 'and her route is there');

  await Promise.all([...hub.ctx.servers.all].map((rt) => hub.ctx.servers.stop(rt, { now: true })));
  await hub.close();
  closed = true;
  t.equal((await run.containers()).length, 0, 'stopping her server removes the container (remove: true)');
  t.same(await run.volumes(), ['jupyterhub-user-ada'], 'and keeps her volume');
});
