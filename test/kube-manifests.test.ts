import t from 'tap';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';
import { renderManifests, type KubeSpawnerConfig } from '@tshub/spawner-kubernetes';
import { defaultRegistry, validateConfig } from '@tshub/hub';
import { validateKubernetesManifest } from './support/kube-schema.js';

/**
 * Acceptance 1 of issue #4: every manifest the kubernetes spawner generates, for a table of the
 * configurations people write (limits, GPUs, profiles, templating, storage, hooks, security context,
 * scheduling, services), is valid against the Kubernetes OpenAPI schema shipped as test data.
 */

const common: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: [], ip: '127.0.0.1', port: 0,
  start_timeout: 300, http_timeout: 30, poll_interval: 30, mem_limit: 128 * 1024 ** 2, mem_guarantee: 64 * 1024 ** 2, cpu_limit: 0.5, cpu_guarantee: 0.05,
};
const env = { JUPYTERHUB_USER: 'x', JUPYTERHUB_API_TOKEN: 'secret', JUPYTERHUB_API_URL: 'http://hub:8081/hub/api' };

const table: { name: string; config: KubeSpawnerConfig; user?: string; server?: string; override?: Record<string, unknown> }[] = [
  { name: 'defaults', config: {} },
  {
    name: 'the university class: limits, PVC per student, course material cloned on start',
    config: {
      image: 'quay.io/jupyter/scipy-notebook:2025-06-01', image_pull_policy: 'IfNotPresent', storage_capacity: '1Gi', storage_class: 'standard',
      lifecycle_hooks: { postStart: { exec: { command: ['sh', '-c', 'test -d cs101 || git clone https://git.example.edu/cs101'] } } },
      uid: 1000, fs_gid: 100, node_selector: { 'hub.jupyter.org/node-purpose': 'user' },
      tolerations: [{ key: 'hub.jupyter.org/dedicated', operator: 'Equal', value: 'user', effect: 'NoSchedule' }],
      priority_class_name: 'tshub-default-priority',
    },
  },
  {
    name: 'everything at once',
    user: 'Ada.Lovelace@uni.edu',
    server: 'Project X',
    config: {
      image_pull_secrets: ['regcred'], extra_resource_limits: { 'nvidia.com/gpu': 1 }, extra_resource_guarantees: { 'nvidia.com/gpu': 1 },
      node_affinity_required: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a', 'b'] }] }],
      node_affinity_preferred: [{ weight: 1, preference: { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] } }],
      pod_affinity_preferred: [{ weight: 10, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'jupyterhub' } } } }],
      pod_anti_affinity_required: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { component: 'singleuser-server' } } }],
      service_account: 'notebook', extra_labels: { course: 'ml', who: '{username}' }, extra_annotations: { owner: '{unescaped_username}' },
      pod_name_template: 'jupyter-{username}--{servername}', pvc_name_template: 'claim-{username}--{servername}',
      storage_capacity: '5Gi', storage_access_modes: ['ReadWriteOnce'], storage_extra_labels: { owner: '{username}' },
      volumes: [{ name: 'data', configMap: { name: 'course-{username}' } }, { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } }],
      volume_mounts: [{ name: 'data', mountPath: '/data', readOnly: true }, { name: 'scratch', mountPath: '/scratch' }],
      init_containers: [{ name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'echo {username}'] }],
      extra_containers: [{ name: 'proxy', image: 'nginx:1.27', ports: [{ containerPort: 8080 }] }],
      uid: 1000, gid: 100, fs_gid: 100, supplemental_gids: [4000], allow_privilege_escalation: false,
      extra_pod_config: { dnsPolicy: 'ClusterFirst', terminationGracePeriodSeconds: 30 }, extra_container_config: { workingDir: '/home/jovyan' },
      scheduler_name: 'tshub-user-scheduler', services_enabled: true,
    },
  },
  {
    name: 'per-user namespaces with templated labels',
    user: 'Ada.Lovelace@uni.edu',
    config: { enable_user_namespaces: true, user_namespace_labels: { course: 'ml', owner: '{username}' }, user_namespace_annotations: { contact: '{unescaped_username}' }, storage_capacity: '1Gi', services_enabled: true },
  },
  {
    name: 'a GPU profile override',
    config: { profile_list: [] },
    override: { image: 'quay.io/jupyter/pytorch-notebook:cuda12-2025-06-01', extra_resource_limits: { 'nvidia.com/gpu': 2 }, mem_limit: '8G', cpu_limit: 4, environment: { COURSE: 'dl' } },
  },
];

for (const row of table) {
  t.test(row.name, async (t) => {
    const { pod, pvc, service, namespace } = renderManifests({ config: row.config, common, user: row.user ?? 'student1', server: row.server ?? '', namespace: 'tshub', env, override: row.override as never });
    const json = (o: unknown) => JSON.parse(JSON.stringify(o)) as unknown;
    t.same(validateKubernetesManifest(json(pod)), [], `pod ${pod.metadata?.name} is valid`);
    if (pvc) t.same(validateKubernetesManifest(json(pvc)), [], `PVC ${pvc.metadata?.name} is valid`);
    if (service) t.same(validateKubernetesManifest(json(service)), [], `service ${service.metadata?.name} is valid`);
    if (namespace) {
      t.same(validateKubernetesManifest(json(namespace)), [], `namespace ${namespace.metadata?.name} is valid`);
      for (const o of [pod, pvc, service]) if (o) t.equal(o.metadata?.namespace, namespace.metadata?.name, `the ${o.kind} is in the user's namespace`);
    }
    t.ok(pod.metadata!.name!.length <= 63, 'the pod name fits a DNS label');
  });
}

t.test('the validator is not a rubber stamp: a broken pod is refused', async (t) => {
  const { pod } = renderManifests({ config: {}, common, user: 'x', env });
  const broken = JSON.parse(JSON.stringify(pod)) as { spec: { containers: Record<string, unknown>[] } };
  broken.spec.containers[0]!.imagePullPolicy = 'Sometimes';
  broken.spec.containers[0]!.port = 8888;
  t.ok(validateKubernetesManifest(broken).length >= 2, 'a bad enum value and an unknown field are reported');
});

t.test('the hub validates the kind\'s options: typos and wrong types are reported with their path', async (t) => {
  const check = (spawner: Record<string, unknown>) => validateConfig({ spawner: { kind: 'kubespawner', ...spawner } }, defaultRegistry());
  t.match(check({ namespace: 'jhub', storage_capacity: '1Gi', profile_list: [{ display_name: 'A', kubespawner_override: { image: 'x' } }] }), { ok: true }, 'a valid config passes');
  const bad = check({ namespce: 'jhub', image_pull_policy: 'Sometimes', profile_list: [{ display_name: 'GPU', kubespawner_override: { imag: 'x' } }, { slug: 'no-name' }] });
  t.equal(bad.ok, false, 'a broken one is refused');
  const errors = bad.ok ? [] : bad.errors;
  t.ok(errors.some((e) => /^spawner\.namespce: unknown option; did you mean 'namespace'\?/.test(e)), 'a misspelt key, with the likely one');
  t.ok(errors.some((e) => /^spawner\.image_pull_policy: /.test(e)), 'a bad pull policy');
  t.ok(errors.some((e) => /^spawner\.profile_list\.0\.kubespawner_override\.imag: unknown option; did you mean 'image'\?/.test(e)), 'a typo inside a profile override');
  t.ok(errors.some((e) => /^spawner\.profile_list\.1: .*display_name/.test(e)), 'a profile without a display_name');
  const ns = check({ enable_user_namespaces: true, user_namespace_template: '{hubnamespace}-{username}', user_namespace_labels: { a: 'b' }, user_namespace_annotations: {}, delete_user_namespace: false });
  t.match(ns, { ok: true }, 'the user-namespace options are known');
  const badNs = check({ enable_user_namespace: true, user_namespace_labels: { a: 1 } });
  t.match(badNs.ok ? [] : badNs.errors, [/^spawner\.enable_user_namespace: unknown option; did you mean 'enable_user_namespaces'\?/, /^spawner\.user_namespace_labels\.a: must be string/], 'and checked');
});
