import type { JsonSchema } from '@tshub/plugin-api';
import { DEFAULTS } from './config.js';

const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', description, ...extra });
const nullableStr = (description: string): JsonSchema => ({ type: ['string', 'null'], description });
const bool = (description: string): JsonSchema => ({ type: 'boolean', description });
const int = (description: string): JsonSchema => ({ type: ['integer', 'null'], minimum: 0, description });
const strMap = (description: string): JsonSchema => ({ type: 'object', additionalProperties: { type: 'string' }, description });
const objects = (description: string): JsonSchema => ({ type: 'array', items: { type: 'object' }, description });
const object = (description: string): JsonSchema => ({ type: 'object', description });
const strList = (description: string): JsonSchema => ({ type: 'array', items: { type: 'string' }, description });
const quantityMap = (description: string): JsonSchema => ({
  type: 'object', additionalProperties: { type: ['string', 'number'] }, description,
});
const byteSize: JsonSchema = {
  anyOf: [{ type: 'string', pattern: '^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)[KMGT]?$' }, { type: 'number' }, { type: 'null' }],
};

/** The options a profile may override: the pod options plus the common ones that shape a pod. */
const podProperties: Record<string, JsonSchema> = {
  image: str(`Container image of the user pod (default ${DEFAULTS.image}).`),
  image_pull_policy: { enum: ['Always', 'IfNotPresent', 'Never', null], description: "Kubernetes imagePullPolicy; unset leaves the cluster's default." },
  image_pull_secrets: strList('Names of Secrets (in the namespace) used to pull the image.'),
  extra_resource_limits: quantityMap('More container limits, e.g. {"nvidia.com/gpu": 1}.'),
  extra_resource_guarantees: quantityMap('More container requests, e.g. {"nvidia.com/gpu": 1}.'),
  node_selector: strMap('Node labels the pod must be scheduled on, e.g. {"hub.jupyter.org/node-purpose": "user"}.'),
  tolerations: objects('Pod tolerations (Kubernetes Toleration objects).'),
  node_affinity_required: objects('NodeSelectorTerms the node must match (requiredDuringSchedulingIgnoredDuringExecution).'),
  node_affinity_preferred: objects('PreferredSchedulingTerms (preferredDuringSchedulingIgnoredDuringExecution).'),
  pod_affinity_required: objects('PodAffinityTerms: schedule near these pods.'),
  pod_affinity_preferred: objects('WeightedPodAffinityTerms: prefer to schedule near these pods.'),
  pod_anti_affinity_required: objects('PodAffinityTerms: never schedule near these pods.'),
  pod_anti_affinity_preferred: objects('WeightedPodAffinityTerms: prefer to schedule away from these pods.'),
  service_account: nullableStr('ServiceAccount the pod runs as; its token is mounted only when this is set.'),
  automount_service_account_token: { type: ['boolean', 'null'], description: 'Mount the service account token; default: only when service_account is set.' },
  priority_class_name: nullableStr('PriorityClass of user pods (above the placeholders, so users preempt them).'),
  scheduler_name: nullableStr('Scheduler for user pods (e.g. a user-scheduler that packs nodes).'),
  extra_labels: strMap('More pod labels; values may use {username}, {servername}, {user_server}.'),
  extra_annotations: strMap('More pod annotations; values may use {username}, {unescaped_username}, {servername}.'),
  pod_name_template: str(`Pod name (default ${DEFAULTS.pod_name_template}). Placeholders: {username}, {servername}, {user_server}, {escaped_username}, {namespace}. Made DNS-safe.`),
  storage_pvc_ensure: { type: ['boolean', 'null'], description: 'Create the user\'s PVC if absent before the pod starts; default: when storage_capacity is set.' },
  storage_capacity: nullableStr('Size requested by each user\'s PVC, e.g. 10Gi. Setting it gives every user a PVC.'),
  storage_class: nullableStr('StorageClass of the PVCs; unset uses the cluster default.'),
  storage_access_modes: strList('PVC access modes (default ["ReadWriteOnce"]).'),
  storage_extra_labels: strMap('More PVC labels (templated).'),
  pvc_name_template: str(`PVC name (default ${DEFAULTS.pvc_name_template}); same placeholders as pod_name_template.`),
  storage_mount_path: str(`Where the user's PVC is mounted when no volume in 'volumes' uses it already (default ${DEFAULTS.storage_mount_path}).`),
  volumes: objects('Pod volumes (Kubernetes Volume objects); strings may use {username}, {pvc_name}... A volume whose claimName is {pvc_name} mounts the user\'s PVC.'),
  volume_mounts: objects('Mounts of the notebook container (VolumeMount objects), templated like volumes.'),
  lifecycle_hooks: object('Container lifecycle handlers: {"postStart": {"exec": {"command": [...]}}} (e.g. git clone course material), "preStop".'),
  init_containers: objects('Containers run to completion before the notebook starts (templated).'),
  extra_containers: objects('Sidecar containers beside the notebook (templated).'),
  extra_pod_config: object('Extra PodSpec fields, merged over the generated spec.'),
  extra_container_config: object('Extra Container fields for the notebook container, merged over the generated ones.'),
  uid: int('runAsUser of the notebook container (z2jh uses 1000).'),
  gid: int('runAsGroup of the notebook container.'),
  fs_gid: int('fsGroup of the pod: the group that owns mounted volumes (z2jh uses 100).'),
  supplemental_gids: { type: 'array', items: { type: 'integer', minimum: 0 }, description: 'supplementalGroups of the pod.' },
  privileged: bool('Run the notebook container privileged (default false).'),
  allow_privilege_escalation: { type: ['boolean', 'null'], description: 'allowPrivilegeEscalation (default false; null leaves it unset).' },
  services_enabled: bool('Put a Service in front of each pod and connect to its DNS name instead of the pod IP.'),
  delete_grace_period: { type: 'number', minimum: 0, description: `Seconds a stopping pod gets before it is killed (default ${DEFAULTS.delete_grace_period}).` },
};

/** Common Spawner options a profile may also override. */
const commonOverrideProperties: Record<string, JsonSchema> = {
  cmd: strList('Command of the single-user server.'),
  args: strList('Extra arguments.'),
  environment: strMap('More environment variables for this profile.'),
  cpu_limit: { type: ['number', 'null'], description: 'CPU limit (cores).' },
  cpu_guarantee: { type: ['number', 'null'], description: 'CPU guarantee (cores).' },
  mem_limit: { ...byteSize, description: 'Memory limit (bytes or 512M, 2G...).' },
  mem_guarantee: { ...byteSize, description: 'Memory guarantee.' },
};

const profile: JsonSchema = {
  type: 'object',
  required: ['display_name'],
  additionalProperties: false,
  properties: {
    display_name: str('Name shown on the spawn form.'),
    slug: str('Value sent as user_options.profile (API: {"profile": "<slug>"}); default: derived from display_name.', { pattern: '^[A-Za-z0-9._-]+$' }),
    description: str('Text shown under the name.'),
    default: bool('Pre-selected on the form and used when no profile is chosen.'),
    allowed_groups: strList('Only members of these groups see and may choose this profile.'),
    kubespawner_override: {
      type: 'object', additionalProperties: false, properties: { ...podProperties, ...commonOverrideProperties },
      description: 'Options this profile changes; maps (node_selector, extra_labels, environment...) are merged.',
    },
  },
};

/** JSON Schema of the options the kubernetes kind adds to the `spawner:` section. */
export const kubernetesConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    api_url: str('Kubernetes API server URL (e.g. https://10.0.0.1:6443). Unset: the kubeconfig, else the in-cluster service account.'),
    api_token: str('Bearer token for api_url. Prefer api_token_file.'),
    api_token_file: str('File holding the bearer token for api_url (re-read at start-up).'),
    api_ca_file: str('CA bundle that signs the API server\'s certificate, for api_url over https.'),
    kubeconfig: str('Path of a kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).'),
    kube_context: str('Context of the kubeconfig to use (default: its current-context).'),
    namespace: str('Namespace of user pods (default: the hub\'s own namespace in-cluster, else "default").'),
    profile_list: { type: 'array', items: profile, description: 'Choices on the spawn form, each overriding pod options; may be limited to groups.' },
    events_enabled: bool('Watch Kubernetes Events and show them as spawn progress (default true).'),
    delete_pvc: bool('Delete the user\'s PVC when the user or named server is deleted (default false here; KubeSpawner\'s is true).'),
    reflector_relist_seconds: { type: 'number', minimum: 1, description: 'Seconds between forced re-lists of the pod and event caches (default 300).' },
    enable_user_namespaces: bool('Give each user a namespace of their own, created before their PVC and pod (needs the ClusterRole in deploy/kubernetes/components/user-namespaces; pods and events are then watched cluster-wide).'),
    user_namespace_template: str(`Name of a user's namespace (default ${DEFAULTS.user_namespace_template}); placeholders as pod_name_template plus {hubnamespace}. Made DNS-safe.`),
    user_namespace_labels: strMap('More labels of a user namespace, set when it is created (templated).'),
    user_namespace_annotations: strMap('Annotations of a user namespace, set when it is created (templated).'),
    delete_user_namespace: bool('Delete the user\'s namespace, and everything in it, when the user is deleted (default false). Only namespaces this hub created are deleted.'),
    // A function cannot be written in YAML or checked by JSON Schema: any value passes here, and the
    // hub's config loader sets functions aside before validating (as for authenticator.post_auth_hook).
    modify_pod_hook: { description: 'A function (in a .js/.ts config) (pod, {userName, serverName, userOptions, namespace}) => pod: changes the pod manifest before it is created.' },
    ...podProperties,
  },
};
