import t from 'tap';
import type { SpawnerCommonConfig } from '@tshub/plugin-api';
import { applyOverride, resolvePodOptions, type KubeSpawnerConfig } from './config.js';
import { objectName, templateNames } from './names.js';
import { buildPod, podEnv, type ManifestNames } from './pod-manifest.js';
import { buildPvc, buildService } from './storage-service-manifests.js';

const common: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'], args: [], default_url: '', notebook_dir: '', environment: {}, env_keep: [], ip: '127.0.0.1', port: 0,
  start_timeout: 60, http_timeout: 30, poll_interval: 30, mem_limit: null, mem_guarantee: null, cpu_limit: null, cpu_guarantee: null,
};

function manifests(config: KubeSpawnerConfig, opts: { user?: string; server?: string; common?: Partial<SpawnerCommonConfig>; override?: Record<string, never> | object } = {}) {
  let o = resolvePodOptions(config, { ...common, ...opts.common });
  if (opts.override) o = applyOverride(o, opts.override as never);
  const user = opts.user ?? 'alice';
  const server = opts.server ?? '';
  const names = templateNames(user, server, 'jhub');
  const m: ManifestNames = {
    names, namespace: 'jhub', userName: user, serverName: server,
    podName: objectName(o.pod_name_template, names), pvcName: objectName(o.pvc_name_template, names),
  };
  const env = podEnv({ JUPYTERHUB_USER: user, JUPYTERHUB_API_TOKEN: 'secret' }, o, `/user/${user}/`);
  return { pod: buildPod(o, m, env), pvc: buildPvc(o, m), service: buildService(o, m, 'uid-1') };
}

/** Each row: a configuration people set, and the part of the manifest it must produce. */
const table: { name: string; config: KubeSpawnerConfig; opts?: Parameters<typeof manifests>[1]; pod?: object; pvc?: object; service?: object }[] = [
  {
    name: 'defaults: KubeSpawner names, labels, port 8888, no token mounted',
    config: {},
    pod: {
      metadata: {
        name: 'jupyter-alice', namespace: 'jhub',
        labels: { app: 'jupyterhub', component: 'singleuser-server', heritage: 'jupyterhub', 'hub.jupyter.org/username': 'alice', 'hub.jupyter.org/servername': '' },
        annotations: { 'hub.jupyter.org/username': 'alice' },
      },
      spec: {
        automountServiceAccountToken: false, restartPolicy: 'OnFailure',
        containers: [{ name: 'notebook', image: 'quay.io/jupyterhub/singleuser:latest', args: ['jupyterhub-singleuser'], ports: [{ containerPort: 8888 }] }],
      },
    },
    pvc: { metadata: { name: 'claim-alice' }, spec: { accessModes: ['ReadWriteOnce'] } },
    service: { metadata: { name: 'jupyter-alice', ownerReferences: [{ kind: 'Pod', uid: 'uid-1' }] }, spec: { ports: [{ port: 8888 }] } },
  },
  {
    name: 'cpu/mem limits and guarantees, GPUs as extra resources',
    config: { extra_resource_limits: { 'nvidia.com/gpu': 1 }, extra_resource_guarantees: { 'nvidia.com/gpu': '1' } },
    opts: { common: { cpu_limit: 0.5, cpu_guarantee: 0.1, mem_limit: 128 * 1024 ** 2, mem_guarantee: 64 * 1024 ** 2 } },
    pod: { spec: { containers: [{ resources: { limits: { cpu: '0.5', memory: '134217728', 'nvidia.com/gpu': '1' }, requests: { cpu: '0.1', memory: '67108864', 'nvidia.com/gpu': '1' } } }] } },
  },
  {
    name: 'image, pull policy and secrets, cmd/args',
    config: { image: 'registry.example.edu/course:2026', image_pull_policy: 'Always', image_pull_secrets: ['regcred'], cmd: ['start-notebook.sh'], args: ['--debug'] },
    pod: { spec: { imagePullSecrets: [{ name: 'regcred' }], containers: [{ image: 'registry.example.edu/course:2026', imagePullPolicy: 'Always', args: ['start-notebook.sh', '--debug'] }] } },
  },
  {
    name: 'scheduling: node selector, tolerations, node and pod affinity, priority and scheduler',
    config: {
      node_selector: { 'hub.jupyter.org/node-purpose': 'user' },
      tolerations: [{ key: 'hub.jupyter.org/dedicated', operator: 'Equal', value: 'user', effect: 'NoSchedule' }],
      node_affinity_required: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }],
      pod_anti_affinity_preferred: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { component: 'singleuser-server' } } } }],
      priority_class_name: 'jhub-user', scheduler_name: 'jhub-user-scheduler',
    },
    pod: {
      spec: {
        nodeSelector: { 'hub.jupyter.org/node-purpose': 'user' },
        tolerations: [{ key: 'hub.jupyter.org/dedicated', effect: 'NoSchedule' }],
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone' }] }] } },
          podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100 }] },
        },
        priorityClassName: 'jhub-user', schedulerName: 'jhub-user-scheduler',
      },
    },
  },
  {
    name: 'service account: its token is mounted',
    config: { service_account: 'notebook-sa' },
    pod: { spec: { serviceAccountName: 'notebook-sa', automountServiceAccountToken: true } },
  },
  {
    name: 'templated labels and annotations; a named server; an e-mail user name',
    config: { extra_labels: { course: 'cs101', student: '{username}' }, extra_annotations: { owner: '{unescaped_username}/{servername}' } },
    opts: { user: 'Ada.Lovelace@uni.edu', server: 'Lab 2' },
    pod: {
      metadata: {
        name: /^jupyter-ada-lovelace-uni-edu---[0-9a-f]{8}--lab-2---[0-9a-f]{8}$/,
        labels: { course: 'cs101', student: /^ada-lovelace-uni-edu---[0-9a-f]{8}$/, 'hub.jupyter.org/servername': /^lab-2---/ },
        annotations: { owner: /^Ada\.Lovelace@uni\.edu\/lab-2---/, 'hub.jupyter.org/username': 'Ada.Lovelace@uni.edu', 'hub.jupyter.org/servername': 'Lab 2' },
      },
    },
  },
  {
    name: 'pod_name_template jupyter-{username}--{servername}: no trailing dashes for the default server',
    config: { pod_name_template: 'jupyter-{username}--{servername}', pvc_name_template: 'volume-{username}{servername}' },
    pod: { metadata: { name: 'jupyter-alice' } },
    pvc: { metadata: { name: 'volume-alice' } },
  },
  {
    name: 'storage: per-user PVC mounted at the home, templated extra volumes',
    config: {
      storage_capacity: '10Gi', storage_class: 'fast', storage_access_modes: ['ReadWriteOnce'], storage_extra_labels: { owner: '{username}' },
      volumes: [{ name: 'shared', nfs: { server: 'nfs.example.edu', path: '/courses/{username}' } }],
      volume_mounts: [{ name: 'shared', mountPath: '/home/jovyan/shared', readOnly: true }],
    },
    pod: {
      spec: {
        volumes: [{ name: 'shared', nfs: { path: '/courses/alice' } }, { name: 'home', persistentVolumeClaim: { claimName: 'claim-alice' } }],
        containers: [{ volumeMounts: [{ name: 'shared', mountPath: '/home/jovyan/shared' }, { name: 'home', mountPath: '/home/jovyan' }] }],
      },
    },
    pvc: { metadata: { labels: { owner: 'alice', component: 'singleuser-storage' } }, spec: { resources: { requests: { storage: '10Gi' } }, storageClassName: 'fast' } },
  },
  {
    name: 'a configured volume that claims {pvc_name} is used instead of the default home volume',
    config: {
      storage_capacity: '1Gi', volumes: [{ name: 'volume-{username}', persistentVolumeClaim: { claimName: '{pvc_name}' } }],
      volume_mounts: [{ name: 'volume-{username}', mountPath: '/home/{username}' }],
    },
    pod: { spec: { volumes: [{ name: 'volume-alice', persistentVolumeClaim: { claimName: 'claim-alice' } }], containers: [{ volumeMounts: [{ name: 'volume-alice', mountPath: '/home/alice' }] }] } },
  },
  {
    name: 'lifecycle postStart clones course material; init and extra containers',
    config: {
      lifecycle_hooks: { postStart: { exec: { command: ['sh', '-c', 'git clone https://git.example.edu/cs101 /home/jovyan/cs101 || true'] } } },
      init_containers: [{ name: 'fix-perms', image: 'busybox:1.36', command: ['sh', '-c', 'chown 1000 /home/{username}'] }],
      extra_containers: [{ name: 'sidecar', image: 'nginx:1.27' }],
    },
    pod: {
      spec: {
        initContainers: [{ name: 'fix-perms', command: ['sh', '-c', 'chown 1000 /home/alice'] }],
        containers: [{ name: 'notebook', lifecycle: { postStart: { exec: { command: ['sh', '-c', /git clone/] } } } }, { name: 'sidecar', image: 'nginx:1.27' }],
      },
    },
  },
  {
    name: 'security context: uid, gid, fs_gid, supplemental gids',
    config: { uid: 1000, gid: 100, fs_gid: 100, supplemental_gids: [2000] },
    pod: { spec: { securityContext: { fsGroup: 100, supplementalGroups: [2000] }, containers: [{ securityContext: { runAsUser: 1000, runAsGroup: 100, allowPrivilegeEscalation: false } }] } },
  },
  {
    name: 'a profile override replaces the image and merges maps',
    config: { node_selector: { pool: 'cpu' } },
    opts: { override: { image: 'jupyter/gpu:1', node_selector: { gpu: 'yes' }, mem_limit: '2G', environment: { COURSE: 'ml' } } },
    pod: {
      spec: {
        nodeSelector: { pool: 'cpu', gpu: 'yes' },
        containers: [{ image: 'jupyter/gpu:1', resources: { limits: { memory: String(2 * 1024 ** 3) } }, env: [{ name: 'COURSE', value: 'ml' }] }],
      },
    },
  },
];

for (const row of table) {
  t.test(row.name, async (t) => {
    const { pod, pvc, service } = manifests(row.config, row.opts);
    if (row.pod) t.match(pod, row.pod, 'pod');
    if (row.pvc) t.match(pvc, row.pvc, 'pvc');
    if (row.service) t.match(service, row.service, 'service');
  });
}

t.test('environment: the hub\'s variables, the service URL on port 8888, limits, sorted', async (t) => {
  const { pod } = manifests({}, { common: { mem_limit: 1024, port: 0 } });
  const env = pod.spec!.containers[0]!.env!;
  t.same(env.map((e) => e.name), [...env.map((e) => e.name)].sort(), 'sorted by name');
  t.match(env, [{ name: 'JUPYTERHUB_API_TOKEN', value: 'secret' }, { name: 'JUPYTERHUB_SERVICE_URL', value: 'http://0.0.0.0:8888/user/alice/' }, { name: 'JUPYTERHUB_USER', value: 'alice' }, { name: 'MEM_LIMIT', value: '1024' }]);
});

t.test('nothing configured stays out of the manifest', async (t) => {
  const { pod } = manifests({});
  for (const key of ['nodeSelector', 'tolerations', 'affinity', 'imagePullSecrets', 'initContainers', 'volumes', 'securityContext', 'serviceAccountName']) {
    t.notOk(key in pod.spec!, `no ${key}`);
  }
  t.notOk('resources' in pod.spec!.containers[0]!, 'no resources');
});
