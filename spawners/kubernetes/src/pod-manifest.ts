import type { V1Affinity, V1Container, V1Lifecycle, V1Pod, V1PodSpec, V1Toleration, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { formatTemplate } from '@tshub/plugin-api';
import { wantsPvc, type PodOptions } from './config.js';
import { expandDeep, labelValue, type TemplateNames } from './names.js';

/** The label KubeSpawner puts on every user pod; the pod reflector selects on it. */
export const COMPONENT_LABEL = 'component';
export const POD_COMPONENT = 'singleuser-server';
/** The name of the container that runs the single-user server. */
export const NOTEBOOK_CONTAINER = 'notebook';

/** What a manifest needs besides the options: the names worked out for this user server. */
export interface ManifestNames {
  readonly names: TemplateNames;
  readonly namespace: string;
  readonly podName: string;
  /** The user's PVC, or null when no PVC is used. */
  readonly pvcName: string | null;
  readonly userName: string;
  readonly serverName: string;
}

/** Template values: the user/server names plus the object names. */
export function templateValues(m: ManifestNames): Record<string, string> {
  return { ...m.names, pod_name: m.podName, pvc_name: m.pvcName ?? '' };
}

/** Labels every object of a user server carries (KubeSpawner's, so z2jh network policies and tools match). */
export function commonLabels(m: ManifestNames, component: string): Record<string, string> {
  return {
    app: 'jupyterhub',
    [COMPONENT_LABEL]: component,
    heritage: 'jupyterhub',
    'hub.jupyter.org/username': labelValue(m.names.username),
    'hub.jupyter.org/servername': labelValue(m.names.servername),
  };
}

/** Raw names go into annotations: label values cannot hold `@` or capitals. */
export function commonAnnotations(m: ManifestNames): Record<string, string> {
  return { 'hub.jupyter.org/username': m.userName, 'hub.jupyter.org/servername': m.serverName };
}

/**
 * The server's environment: the hub's (every JUPYTERHUB_* variable), JUPYTERHUB_SERVICE_URL (the pod
 * listens on all its interfaces at `port`), the limits as JupyterHub exports them, then the profile's
 * variables. Sorted by name so the manifest is stable.
 */
export function podEnv(hubEnv: Readonly<Record<string, string>>, opts: PodOptions, servicePrefix: string): { name: string; value: string }[] {
  const env: Record<string, string> = { ...hubEnv, JUPYTERHUB_SERVICE_URL: `http://0.0.0.0:${opts.port}${servicePrefix}` };
  const limits: [string, number | null][] = [
    ['MEM_LIMIT', opts.mem_limit], ['MEM_GUARANTEE', opts.mem_guarantee], ['CPU_LIMIT', opts.cpu_limit], ['CPU_GUARANTEE', opts.cpu_guarantee],
  ];
  for (const [name, v] of limits) {
    if (v === null) delete env[name];
    else env[name] = String(v);
  }
  Object.assign(env, opts.environment);
  return Object.keys(env).sort().map((name) => ({ name, value: env[name]! }));
}

/** Kubernetes quantities from the options: cores as decimals, memory in bytes, extras as given. */
function resources(cpu: number | null, mem: number | null, extra: Record<string, string | number>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (cpu !== null) out.cpu = String(cpu);
  if (mem !== null) out.memory = String(mem);
  for (const [k, v] of Object.entries(extra)) out[k] = String(v);
  return Object.keys(out).length ? out : undefined;
}

function affinity(o: PodOptions): V1Affinity | undefined {
  const a: V1Affinity = {};
  const node = {
    ...(o.node_affinity_required.length ? { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: o.node_affinity_required } } : {}),
    ...(o.node_affinity_preferred.length ? { preferredDuringSchedulingIgnoredDuringExecution: o.node_affinity_preferred } : {}),
  };
  const pods = (required: object[], preferred: object[]) => ({
    ...(required.length ? { requiredDuringSchedulingIgnoredDuringExecution: required } : {}),
    ...(preferred.length ? { preferredDuringSchedulingIgnoredDuringExecution: preferred } : {}),
  });
  if (Object.keys(node).length) a.nodeAffinity = node as V1Affinity['nodeAffinity'];
  const pod = pods(o.pod_affinity_required, o.pod_affinity_preferred);
  if (Object.keys(pod).length) a.podAffinity = pod as V1Affinity['podAffinity'];
  const anti = pods(o.pod_anti_affinity_required, o.pod_anti_affinity_preferred);
  if (Object.keys(anti).length) a.podAntiAffinity = anti as V1Affinity['podAntiAffinity'];
  return Object.keys(a).length ? a : undefined;
}

/** Drops undefined, empty-object and empty-array fields so manifests show only what was configured. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)),
  ) as T;
}

/** The user's PVC as a pod volume and mount, unless a configured volume already claims it. */
function storageVolume(o: PodOptions, m: ManifestNames, volumes: V1Volume[]): { volume?: V1Volume; mount?: V1VolumeMount } {
  if (!m.pvcName || !wantsPvc(o)) return {};
  if (volumes.some((v) => v.persistentVolumeClaim?.claimName === m.pvcName)) return {};
  return { volume: { name: 'home', persistentVolumeClaim: { claimName: m.pvcName } }, mount: { name: 'home', mountPath: o.storage_mount_path } };
}

/**
 * KubeSpawner's make_pod: the whole pod manifest for one user server. Pure: every value comes from the
 * options, the names and the environment, so a table of configurations can be checked without a cluster.
 */
export function buildPod(o: PodOptions, m: ManifestNames, env: { name: string; value: string }[]): V1Pod {
  const values = templateValues(m);
  const volumes = expandDeep(o.volumes, values) as unknown as V1Volume[];
  const mounts = expandDeep(o.volume_mounts, values) as unknown as V1VolumeMount[];
  const home = storageVolume(o, m, volumes);
  const extraLabels = Object.fromEntries(Object.entries(o.extra_labels).map(([k, v]) => [k, labelValue(formatTemplate(v, values))]));
  const extraAnnotations = Object.fromEntries(Object.entries(o.extra_annotations).map(([k, v]) => [k, formatTemplate(v, values)]));

  const notebook: V1Container = compact({
    name: NOTEBOOK_CONTAINER,
    image: o.image,
    imagePullPolicy: o.image_pull_policy ?? undefined,
    // As KubeSpawner: cmd goes into args, so the image's entrypoint (tini) still wraps the server.
    args: [...o.cmd, ...o.args],
    ports: [{ name: 'notebook-port', containerPort: o.port, protocol: 'TCP' }],
    env,
    resources: compact({
      limits: resources(o.cpu_limit, o.mem_limit, o.extra_resource_limits),
      requests: resources(o.cpu_guarantee, o.mem_guarantee, o.extra_resource_guarantees),
    }),
    securityContext: compact({
      runAsUser: o.uid ?? undefined,
      runAsGroup: o.gid ?? undefined,
      allowPrivilegeEscalation: o.allow_privilege_escalation ?? undefined,
      privileged: o.privileged || undefined,
    }),
    lifecycle: expandDeep(o.lifecycle_hooks, values) as V1Lifecycle,
    volumeMounts: [...mounts, ...(home.mount ? [home.mount] : [])],
    ...(expandDeep(o.extra_container_config, values) as Partial<V1Container>),
  });

  const spec: V1PodSpec = compact({
    containers: [notebook, ...(expandDeep(o.extra_containers, values) as unknown as V1Container[])],
    initContainers: expandDeep(o.init_containers, values) as unknown as V1Container[],
    volumes: [...volumes, ...(home.volume ? [home.volume] : [])],
    // OnFailure, as KubeSpawner: a server killed for memory comes back on the same pod and route.
    restartPolicy: 'OnFailure',
    enableServiceLinks: false,
    nodeSelector: o.node_selector,
    tolerations: o.tolerations as unknown as V1Toleration[],
    affinity: affinity(o),
    serviceAccountName: o.service_account ?? undefined,
    // A user's code should not act with a service account's rights unless one was chosen on purpose.
    automountServiceAccountToken: o.automount_service_account_token ?? o.service_account !== null,
    imagePullSecrets: o.image_pull_secrets.map((name) => ({ name })),
    securityContext: compact({ fsGroup: o.fs_gid ?? undefined, supplementalGroups: o.supplemental_gids }),
    priorityClassName: o.priority_class_name ?? undefined,
    schedulerName: o.scheduler_name ?? undefined,
    ...(expandDeep(o.extra_pod_config, values) as Partial<V1PodSpec>),
  });

  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.podName,
      namespace: m.namespace,
      labels: { ...extraLabels, ...commonLabels(m, POD_COMPONENT) },
      annotations: { ...extraAnnotations, ...commonAnnotations(m) },
    },
    spec,
  };
}
