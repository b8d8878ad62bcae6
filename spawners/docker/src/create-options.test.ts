import t from 'tap';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';
import { resolveSettings } from './config.js';
import { bindString, buildCreateOptions, buildMounts, engineKey, mergeEngine, templateFields, type CreateInput } from './create-options.js';

const common: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'], args: ['--allow-root'], default_url: '', notebook_dir: '', environment: {}, env_keep: [],
  ip: '127.0.0.1', port: 0, start_timeout: 60, http_timeout: 30, poll_interval: 30,
  mem_limit: null, mem_guarantee: null, cpu_limit: null, cpu_guarantee: null,
};

t.test('template fields: escaped names, the server suffix, the image name', async (t) => {
  const f = templateFields('Ann.Lee@uni', 'lab 1', 'jupyter', 'quay.io/jupyter/scipy-notebook:2024-01');
  t.equal(f.username, 'Ann.Lee@uni');
  t.equal(f.escaped_username, '-41nn-2e-4cee-40uni');
  t.equal(f.servername_suffix, '--lab-201');
  t.equal(f.imagename, 'scipy-notebook');
  t.equal(templateFields('a', '', 'p', 'img').servername_suffix, '', 'no suffix for the default server');
});

t.test('mounts: the default per-user volume, configured volumes templated, read-only forced', async (t) => {
  const fields = templateFields('bob', '', 'jupyter', 'img');
  t.same(buildMounts(resolveSettings({}), fields, '/home/jovyan/work', true), [
    { source: 'jupyterhub-user-bob', target: '/home/jovyan/work', readOnly: false, named: true },
  ], 'default: a named volume at the notebook dir');
  t.same(buildMounts(resolveSettings({}), fields, '/x', false), [], 'no default volume when the kind has its own storage');
  const s = resolveSettings({
    volumes: { '/srv/homes/{username}': '/home/jovyan', 'course-{escaped_username}': { bind: '/data', mode: 'z' } },
    read_only_volumes: { '/srv/shared': { bind: '/shared', mode: 'rw' } },
  });
  const mounts = buildMounts(s, fields, '/home/jovyan/work', true);
  t.same(mounts.map(bindString), ['/srv/homes/bob:/home/jovyan:rw', 'course-bob:/data:rw,z', '/srv/shared:/shared:ro']);
  t.same(mounts.map((m) => m.named), [false, true, false], 'host paths are binds, other names are volumes');
});

t.test('engine keys: docker-py snake_case becomes the Engine API name', async (t) => {
  const cases: [string, string][] = [['shm_size', 'ShmSize'], ['mem_limit', 'Memory'], ['working_dir', 'WorkingDir'], ['cpu_period', 'CpuPeriod'], ['Labels', 'Labels'], ['user', 'User']];
  for (const [k, want] of cases) t.equal(engineKey(k), want, k);
  t.same(mergeEngine({ Labels: { a: '1' }, Binds: ['x:/x:rw'] }, { labels: { 'b.c_d': '2' }, binds: ['y:/y:ro'] }), { Labels: { a: '1', 'b.c_d': '2' }, Binds: ['x:/x:rw', 'y:/y:ro'] }, 'labels merged with their names kept, binds appended');
});

const input = (over: Partial<CreateInput> = {}, config = {}): CreateInput => {
  const settings = resolveSettings(config);
  const fields = templateFields('bob', '', 'jupyter', 'img:1');
  return {
    settings, common, name: 'jupyter-bob', image: 'img:1', env: { A: '1' }, labels: { 'tshub.user': 'bob' },
    mounts: buildMounts(settings, fields, '/home/jovyan/work', true), port: 8888, workingDir: '', user: '', fields, ...over,
  };
};

t.test('create options: bridge publishes the port on host_ip; host and internal networks do not', async (t) => {
  const bridge = buildCreateOptions(input());
  t.same(bridge.ExposedPorts, { '8888/tcp': {} });
  t.same(bridge.HostConfig?.PortBindings, { '8888/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  t.equal(bridge.HostConfig?.NetworkMode, 'bridge');
  t.same(bridge.Cmd, ['jupyterhub-singleuser', '--allow-root']);
  t.same(bridge.Env, ['A=1']);
  t.same(bridge.HostConfig?.Binds, ['jupyterhub-user-bob:/home/jovyan/work:rw']);
  const host = buildCreateOptions(input({}, { network_name: 'host' }));
  t.equal(host.HostConfig?.NetworkMode, 'host');
  t.notOk(host.ExposedPorts, 'host networking publishes nothing');
  const named = buildCreateOptions(input({}, { network_name: 'course-net' }));
  t.notOk(named.HostConfig?.PortBindings, 'a user-defined network is reached by the container IP');
});

t.test('create options: limits, user, extras merged and templated', async (t) => {
  const o = buildCreateOptions(input(
    { common: { ...common, mem_limit: 1024 ** 3, mem_guarantee: 512 * 1024 ** 2, cpu_limit: 1.5, cpu_guarantee: 0.5 }, user: '1000:100' },
    { extra_create_kwargs: { working_dir: '/srv/{username}', Labels: { course: 'x' } }, extra_host_config: { shm_size: 1024, Memory: 2048 } },
  ));
  t.equal(o.User, '1000:100');
  t.equal(o.WorkingDir, '/srv/bob', 'extra_create_kwargs strings are templated');
  t.same(o.Labels, { 'tshub.user': 'bob', course: 'x' });
  t.equal(o.HostConfig?.ShmSize, 1024);
  t.equal(o.HostConfig?.Memory, 2048, 'extra_host_config wins over mem_limit');
  t.equal(o.HostConfig?.MemoryReservation, 512 * 1024 ** 2);
  t.equal(o.HostConfig?.CpuQuota, 150_000, 'cpu_limit 1.5 = quota 1.5 x period');
  t.equal(o.HostConfig?.CpuPeriod, 100_000);
  t.equal(o.HostConfig?.CpuShares, 512);
});
