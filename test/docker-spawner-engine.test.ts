import t from 'tap';
import { SpawnError, type SpawnerCommonConfig, type SpawnContext } from '@tshub/plugin-api';
import { DockerSpawner, dockerPersonal, openDockerShared, type DockerShared, type DockerSpawnerConfig } from '@tshub/spawner-docker';
import { dockerTestRun, type DockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker, testImageSpawnerConfig } from './support/docker-test-image.js';

/**
 * The DockerSpawner against the real engine without a hub (no Python server: the container runs
 * `sleep`), for what the hub suites cannot see: progress messages, state, the create options Docker
 * received, post_start_cmd, remove: false, replacing a stale container, deleteForever.
 */
const log = { debug() {}, info() {}, warn() {}, error() {} };
const common: SpawnerCommonConfig = {
  cmd: ['sleep', '300'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: ['PATH'],
  ip: '127.0.0.1', port: 0, start_timeout: 60, http_timeout: 30, poll_interval: 30,
  mem_limit: 64 * 1024 ** 2, mem_guarantee: null, cpu_limit: 0.5, cpu_guarantee: null,
};

function context(run: DockerTestRun, shared: DockerShared, config: DockerSpawnerConfig, state = {}): SpawnContext<DockerSpawnerConfig, DockerShared> {
  return {
    user: { name: run.user('eve'), admin: false, groups: [], authState: null }, serverName: 'lab', state, userOptions: {},
    env: { JUPYTERHUB_API_TOKEN: 'secret', PATH: '/host/only/bin' }, servicePrefix: `/user/${run.user('eve')}/lab/`, common, config, log, shared,
  };
}

async function collect(spawner: DockerSpawner<DockerSpawnerConfig>, run: () => Promise<unknown>): Promise<string[]> {
  const messages: string[] = [];
  const reading = (async () => {
    for await (const e of spawner.progress()) messages.push(`${e.progress} ${e.message}`);
  })();
  await run();
  await reading;
  return messages;
}

t.test('DockerSpawner on the engine', async (t) => {
  if (!(await needDocker(t))) return;
  await ensureTestImage();
  const run = dockerTestRun(t);
  const config = { ...testImageSpawnerConfig(), remove: false, post_start_cmd: 'touch /tmp/post-started', extra_create_kwargs: { Labels: run.labels } } as DockerSpawnerConfig;
  const shared = await openDockerShared({ config, common, log });
  const first = new DockerSpawner(context(run, shared, config), dockerPersonal);
  let url = '';
  const messages = await collect(first, async () => ({ url } = await first.start(new AbortController().signal)));
  const eve = run.user('eve');
  t.equal(messages.join(' | '), `5 Checking image tshub-test-singleuser:latest | 65 Creating container jupyter-${eve}--lab | 75 Container jupyter-${eve}--lab started`, 'progress from the spawner');
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'host networking: a port of its own on 127.0.0.1');
  const state = first.state();
  t.match(state, { object_id: String, object_name: `jupyter-${eve}--lab`, image: 'tshub-test-singleuser:latest', port: Number }, 'state records id, name, image');

  const c = run.docker.getContainer(state.object_id as string);
  const info = await c.inspect();
  const port = new URL(url).port;
  t.ok(info.Config.Env.includes(`JUPYTERHUB_SERVICE_URL=http://127.0.0.1:${port}/user/${eve}/lab/`), 'the server is told its address');
  t.notOk(info.Config.Env.some((e) => e.startsWith('PATH=/host/only')), "the hub's env_keep PATH stays out of the container");
  t.ok(info.Config.Env.includes('JUPYTERHUB_ROOT_DIR=/home/jovyan/work'), 'the notebook dir defaults to the volume');
  t.ok(info.HostConfig.Binds?.includes(`jupyterhub-user-${eve}:/home/jovyan/work:rw`), 'the per-user volume is mounted');
  t.equal(info.HostConfig.Memory, 64 * 1024 ** 2, 'mem_limit reaches Docker');
  t.equal(info.HostConfig.CpuQuota, 50_000, 'cpu_limit as a CFS quota');
  t.same(await run.volumes(), [`jupyterhub-user-${eve}`], 'the volume was created with the run label');
  const exec = await c.exec({ Cmd: ['test', '-f', '/tmp/post-started'], AttachStdout: true, AttachStderr: true });
  await new Promise<void>((resolve) => exec.start({}).then((s) => (s.on('end', resolve), s.resume())));
  let done = await exec.inspect();
  for (let i = 0; i < 50 && done.Running; i++) done = await new Promise((r) => setTimeout(r, 20)).then(() => exec.inspect());
  t.equal(done.ExitCode, 0, 'post_start_cmd ran in the container');

  const adopted = new DockerSpawner(context(run, shared, config, state), dockerPersonal);
  t.same(await adopted.poll(), { running: true }, 'an instance rebuilt from state sees it running');
  await adopted.stop({ now: true });
  t.match(await adopted.poll(), { running: false, exitCode: Number }, 'stopped, with its exit code');
  t.equal((await run.containers()).length, 1, 'remove: false keeps the stopped container');

  const second = new DockerSpawner(context(run, shared, config), dockerPersonal);
  await second.start(new AbortController().signal);
  const containers = await run.containers();
  t.equal(containers.length, 1, 'a new start replaces the stale container: no duplicate name');
  t.not(containers[0]?.Id, state.object_id);
  await run.docker.getContainer(containers[0]!.Id).remove({ force: true });
  t.same(await second.poll(), { running: false }, 'a container removed behind our back is not running');
  await second.stop({ now: false });
  t.pass('stop after removal is harmless');
  await second.deleteForever();
  t.same(await run.volumes(), [], 'deleteForever removes the volume the spawner created');

  const missingShared = await openDockerShared({ config: { ...config, image: 'tshub-no-such-image:1' }, common, log });
  const err = await new DockerSpawner({ ...context(run, missingShared, config) }, dockerPersonal).start(new AbortController().signal).catch((e: unknown) => e);
  t.ok(err instanceof SpawnError, 'a missing image with pull_policy never is a SpawnError');
  t.match(err, { reason: 'image-missing', message: /tshub-no-such-image:1 is not on this Docker engine and pull_policy is 'never'/ });
  const netConfig = { ...config, network_name: 'tshub-no-such-net', remove: true } as DockerSpawnerConfig;
  const noNet = new DockerSpawner(context(run, await openDockerShared({ config: netConfig, common, log }), netConfig), dockerPersonal);
  const netErr = await noNet.start(new AbortController().signal).catch((e: unknown) => e);
  t.match(netErr, { message: /^Docker could not start the container: .*tshub-no-such-net/ }, 'an unknown network is reported with its name');
  await noNet.stop({ now: true });
  t.equal((await run.containers()).length, 0, 'and the failed container is removed by stop');
  const pulls = await missingShared.prePull(() => undefined);
  t.match(pulls, [{ image: 'tshub-no-such-image:1', ok: false, message: /not on this Docker engine/ }], "prePull with 'never' reports a missing image");
  t.match(await shared.prePull(() => undefined), [{ image: 'tshub-test-singleuser:latest', ok: true, message: 'already present' }], 'and a present one as present');
});
