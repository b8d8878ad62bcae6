import t from 'tap';
import type { ContainerTaskSpec } from 'dockerode';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';
import { serviceName, templateValues } from './names.js';
import { buildMounts, buildServiceSpec } from './service-spec.js';

const common: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'], args: ['--allow-root'], default_url: '', notebook_dir: '', environment: {}, env_keep: [], ip: '127.0.0.1', port: 0,
  start_timeout: 60, http_timeout: 30, poll_interval: 30, mem_limit: null, mem_guarantee: null, cpu_limit: null, cpu_guarantee: null,
};

t.test('service names: escaped user, -- and the escaped server name, invalid results refused', async (t) => {
  const cases: [string, string, string, string][] = [
    ['{prefix}-{escaped_username}{servername_suffix}', 'alice', '', 'jupyter-alice'],
    ['{prefix}-{escaped_username}{servername_suffix}', 'Ann.Lee@uni', 'lab 2', 'jupyter--41nn-2e-4cee-40uni--lab-202'],
    ['svc-{escaped_username}-{escaped_servername}', 'bob', 'gpu', 'svc-bob-gpu'],
  ];
  for (const [template, user, server, want] of cases) t.equal(serviceName(template, templateValues('jupyter', user, server)), want, `${user}/${server}`);
  t.throws(() => serviceName('{username}', templateValues('jupyter', 'a b', '')), /not a valid service name/);
  t.throws(() => serviceName('{prefix}-{escaped_username}', templateValues('x'.repeat(60), 'alice', '')), /at most 63 characters/);
});

t.test('mounts: the default per-user volume, binds, read-only, labels on named volumes', async (t) => {
  const v = templateValues('jupyter', 'alice', '');
  const labels = { 'org.tshub.user': 'alice' };
  t.same(buildMounts({}, v, labels, '/home/jovyan/work'), [
    { Type: 'volume', Source: 'jupyterhub-user-alice', Target: '/home/jovyan/work', ReadOnly: false, VolumeOptions: { Labels: labels } },
  ]);
  t.same(buildMounts({ volumes: { '/srv/nfs/{username}': '/home/{username}', 'data-{escaped_username}': { bind: '/data', mode: 'ro' } }, read_only_volumes: { '/usr': '/usr' } }, v, labels, '/x'), [
    { Type: 'bind', Source: '/srv/nfs/alice', Target: '/home/alice', ReadOnly: false },
    { Type: 'volume', Source: 'data-alice', Target: '/data', ReadOnly: true, VolumeOptions: { Labels: labels } },
    { Type: 'bind', Source: '/usr', Target: '/usr', ReadOnly: true },
  ]);
});

t.test('the service spec: one replica, never restarted, host network, limits and reservations, placement', async (t) => {
  const spec = buildServiceSpec({
    name: 'jupyter-alice', image: 'img:1', user: 'alice', server: '', port: 41000,
    env: { JUPYTERHUB_API_TOKEN: 'tok', JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:41000/user/alice/' },
    config: { placement: ['node.labels.course==ml'], constraints: ['node.role==worker'], labels: { team: 'a' }, user: '1000:100', extra_resources_spec: { GenericResources: [] } },
    common: { ...common, mem_limit: 2 * 1024 ** 3, mem_guarantee: 512 * 1024 ** 2, cpu_limit: 1.5, cpu_guarantee: 0.25 },
    values: templateValues('jupyter', 'alice', ''),
  });
  const task = spec.TaskTemplate as ContainerTaskSpec;
  t.equal(spec.Name, 'jupyter-alice');
  t.same(spec.Mode, { Replicated: { Replicas: 1 } });
  t.same(task.RestartPolicy, { Condition: 'none' });
  t.same(task.Networks, [{ Target: 'host' }]);
  t.same(task.Resources, { Limits: { MemoryBytes: 2147483648, NanoCPUs: 1_500_000_000 }, Reservations: { MemoryBytes: 536870912, NanoCPUs: 250_000_000 }, GenericResources: [] });
  t.same(task.Placement, { Constraints: ['node.labels.course==ml', 'node.role==worker'] });
  t.match(spec.Labels, { team: 'a', 'org.tshub.spawner': 'swarm', 'org.tshub.user': 'alice', 'org.tshub.server': '' });
  t.match(task.ContainerSpec, { Image: 'img:1', User: '1000:100', Command: ['jupyterhub-singleuser', '--allow-root'], Dir: '/home/jovyan/work', StopGracePeriod: 10e9 });
  t.same(task.ContainerSpec?.Env, ['JUPYTERHUB_API_TOKEN=tok', 'JUPYTERHUB_SERVICE_URL=http://127.0.0.1:41000/user/alice/']);
  t.notOk('EndpointSpec' in spec, 'nothing published, no ingress');
});

t.test('no limits configured: empty Limits and Reservations; an empty cmd keeps the image\'s CMD', async (t) => {
  const spec = buildServiceSpec({ name: 'n', image: 'i', user: 'u', server: 's', port: 1, env: {}, config: {}, common: { ...common, cmd: [], args: [] }, values: templateValues('p', 'u', 's') });
  const task = spec.TaskTemplate as ContainerTaskSpec;
  t.same(task.Resources, { Limits: {}, Reservations: {} });
  t.notOk(task.ContainerSpec && 'Command' in task.ContainerSpec);
});
