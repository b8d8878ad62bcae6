import type { V1Pod } from '@kubernetes/client-node';
import type { JsonObject, SpawnerCommonConfig } from '@tshub/plugin-api';

/** Where the Kubernetes API is and who we are to it. Not overridable by profiles. */
export interface KubeConnectionConfig {
  api_url?: string;
  api_token?: string;
  api_token_file?: string;
  api_ca_file?: string;
  kubeconfig?: string;
  kube_context?: string;
  namespace?: string;
}

/** One entry of `profile_list`: a choice on the spawn form whose override applies to the pod. */
export interface ProfileConfig {
  display_name: string;
  /** The value sent as user_options.profile; derived from display_name when absent. */
  slug?: string;
  description?: string;
  default?: boolean;
  /** Only members of one of these groups see and may choose the profile. Absent: everyone. */
  allowed_groups?: string[];
  kubespawner_override?: JsonObject;
}

/**
 * Everything that shapes a user's pod, PVC and service, with defaults applied. A profile's
 * `kubespawner_override` replaces these keys (maps are merged key by key, as KubeSpawner does).
 */
export interface PodOptions {
  image: string;
  image_pull_policy: string | null;
  image_pull_secrets: string[];
  cmd: string[];
  args: string[];
  /** Added to the hub-computed environment (profiles use it; Spawner.environment is already in it). */
  environment: Record<string, string>;
  port: number;
  cpu_limit: number | null;
  cpu_guarantee: number | null;
  /** Bytes. */
  mem_limit: number | null;
  mem_guarantee: number | null;
  extra_resource_limits: Record<string, string | number>;
  extra_resource_guarantees: Record<string, string | number>;
  node_selector: Record<string, string>;
  tolerations: JsonObject[];
  node_affinity_required: JsonObject[];
  node_affinity_preferred: JsonObject[];
  pod_affinity_required: JsonObject[];
  pod_affinity_preferred: JsonObject[];
  pod_anti_affinity_required: JsonObject[];
  pod_anti_affinity_preferred: JsonObject[];
  service_account: string | null;
  automount_service_account_token: boolean | null;
  priority_class_name: string | null;
  scheduler_name: string | null;
  extra_labels: Record<string, string>;
  extra_annotations: Record<string, string>;
  pod_name_template: string;
  storage_pvc_ensure: boolean | null;
  storage_capacity: string | null;
  storage_class: string | null;
  storage_access_modes: string[];
  storage_extra_labels: Record<string, string>;
  pvc_name_template: string;
  /** Where the user's PVC is mounted when no configured volume already uses it (z2jh's homeMountPath). */
  storage_mount_path: string;
  volumes: JsonObject[];
  volume_mounts: JsonObject[];
  lifecycle_hooks: JsonObject;
  init_containers: JsonObject[];
  extra_containers: JsonObject[];
  extra_pod_config: JsonObject;
  extra_container_config: JsonObject;
  uid: number | null;
  gid: number | null;
  fs_gid: number | null;
  supplemental_gids: number[];
  privileged: boolean;
  allow_privilege_escalation: boolean | null;
  services_enabled: boolean;
  delete_grace_period: number;
}

/** What `modify_pod_hook` is told about the server whose pod it shapes. */
export interface ModifyPodContext {
  readonly userName: string;
  /** '' for the default server. */
  readonly serverName: string;
  readonly userOptions: JsonObject;
  /** The namespace the pod is created in (the user's own with enable_user_namespaces). */
  readonly namespace: string;
}

/**
 * KubeSpawner's modify_pod_hook, from a .js/.ts config: gets a copy of the built manifest and returns
 * the pod to create (or changes the copy in place and returns nothing).
 */
export type ModifyPodHook = (pod: V1Pod, ctx: ModifyPodContext) => V1Pod | undefined | void | Promise<V1Pod | undefined | void>;

/** Per-user namespaces (KubeSpawner's enable_user_namespaces and friends). */
export interface UserNamespaceConfig {
  enable_user_namespaces?: boolean;
  /** Default {hubnamespace}-{username}. */
  user_namespace_template?: string;
  user_namespace_labels?: Record<string, string>;
  user_namespace_annotations?: Record<string, string>;
  /** Delete the user's namespace (and everything in it) when the user is deleted. Not in KubeSpawner. */
  delete_user_namespace?: boolean;
}

/** The `spawner:` options of the kubernetes kind, as written in the config file (all optional). */
export interface KubeSpawnerConfig extends KubeConnectionConfig, UserNamespaceConfig, Partial<Omit<PodOptions, 'mem_limit' | 'mem_guarantee'>> {
  profile_list?: ProfileConfig[];
  events_enabled?: boolean;
  delete_pvc?: boolean;
  modify_pod_hook?: ModifyPodHook | null;
  /** Seconds between forced re-lists of the watch caches (watches are not trusted to deliver everything). */
  reflector_relist_seconds?: number;
}

/** KubeSpawner's defaults (image, names, security). */
export const DEFAULTS = {
  image: 'quay.io/jupyterhub/singleuser:latest',
  pod_name_template: 'jupyter-{user_server}',
  pvc_name_template: 'claim-{user_server}',
  port: 8888,
  delete_grace_period: 1,
  storage_access_modes: ['ReadWriteOnce'],
  storage_mount_path: '/home/jovyan',
  user_namespace_template: '{hubnamespace}-{username}',
} as const;

/** Maps that a profile override merges into instead of replacing. */
const MERGED_KEYS = new Set<keyof PodOptions>([
  'environment', 'extra_resource_limits', 'extra_resource_guarantees', 'node_selector', 'extra_labels',
  'extra_annotations', 'storage_extra_labels', 'extra_pod_config', 'extra_container_config', 'lifecycle_hooks',
]);

/** JupyterHub byte sizes: a number of bytes, or '512M', '2G', '1.5T'. Null for anything else. */
export function parseByteSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.trunc(v) : null;
  if (typeof v !== 'string') return null;
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([KMGT]?)$/.exec(v);
  if (!m) return null;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.floor(Number(m[1]) * mult);
}

/** The pod options for a spawn: the kind's options over KubeSpawner's defaults, with the common Spawner ones. */
export function resolvePodOptions(c: KubeSpawnerConfig, common: SpawnerCommonConfig): PodOptions {
  return {
    image: c.image ?? DEFAULTS.image,
    image_pull_policy: c.image_pull_policy ?? null,
    image_pull_secrets: c.image_pull_secrets ?? [],
    cmd: c.cmd ?? [...common.cmd],
    args: c.args ?? [...common.args],
    // Spawner.environment is already in the hub-computed environment; this map is for profile overrides.
    environment: {},
    // Every pod has its own IP, so there is no free port to pick: 0 (the common default) means 8888.
    port: common.port || DEFAULTS.port,
    cpu_limit: c.cpu_limit ?? common.cpu_limit,
    cpu_guarantee: c.cpu_guarantee ?? common.cpu_guarantee,
    mem_limit: common.mem_limit,
    mem_guarantee: common.mem_guarantee,
    extra_resource_limits: c.extra_resource_limits ?? {},
    extra_resource_guarantees: c.extra_resource_guarantees ?? {},
    node_selector: c.node_selector ?? {},
    tolerations: c.tolerations ?? [],
    node_affinity_required: c.node_affinity_required ?? [],
    node_affinity_preferred: c.node_affinity_preferred ?? [],
    pod_affinity_required: c.pod_affinity_required ?? [],
    pod_affinity_preferred: c.pod_affinity_preferred ?? [],
    pod_anti_affinity_required: c.pod_anti_affinity_required ?? [],
    pod_anti_affinity_preferred: c.pod_anti_affinity_preferred ?? [],
    service_account: c.service_account ?? null,
    automount_service_account_token: c.automount_service_account_token ?? null,
    priority_class_name: c.priority_class_name ?? null,
    scheduler_name: c.scheduler_name ?? null,
    extra_labels: c.extra_labels ?? {},
    extra_annotations: c.extra_annotations ?? {},
    pod_name_template: c.pod_name_template ?? DEFAULTS.pod_name_template,
    storage_pvc_ensure: c.storage_pvc_ensure ?? null,
    storage_capacity: c.storage_capacity ?? null,
    storage_class: c.storage_class ?? null,
    storage_access_modes: c.storage_access_modes ?? [...DEFAULTS.storage_access_modes],
    storage_extra_labels: c.storage_extra_labels ?? {},
    pvc_name_template: c.pvc_name_template ?? DEFAULTS.pvc_name_template,
    storage_mount_path: c.storage_mount_path ?? DEFAULTS.storage_mount_path,
    volumes: c.volumes ?? [],
    volume_mounts: c.volume_mounts ?? [],
    lifecycle_hooks: c.lifecycle_hooks ?? {},
    init_containers: c.init_containers ?? [],
    extra_containers: c.extra_containers ?? [],
    extra_pod_config: c.extra_pod_config ?? {},
    extra_container_config: c.extra_container_config ?? {},
    uid: c.uid ?? null,
    gid: c.gid ?? null,
    fs_gid: c.fs_gid ?? null,
    supplemental_gids: c.supplemental_gids ?? [],
    privileged: c.privileged ?? false,
    allow_privilege_escalation: c.allow_privilege_escalation ?? false,
    services_enabled: c.services_enabled ?? false,
    delete_grace_period: c.delete_grace_period ?? DEFAULTS.delete_grace_period,
  };
}

/** Applies a profile's `kubespawner_override`: maps merge, byte sizes are parsed, everything else replaces. */
export function applyOverride(opts: PodOptions, override: JsonObject): PodOptions {
  const out: Record<string, unknown> = { ...opts };
  for (const [key, value] of Object.entries(override)) {
    if (key === 'mem_limit' || key === 'mem_guarantee') out[key] = value === null ? null : parseByteSize(value);
    else if (MERGED_KEYS.has(key as keyof PodOptions) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = { ...(out[key] as object), ...value };
    } else out[key] = value;
  }
  return out as unknown as PodOptions;
}

/** Whether a PVC is created for the user: `storage_pvc_ensure`, or by default whenever a capacity is set. */
export function wantsPvc(opts: PodOptions): boolean {
  return opts.storage_pvc_ensure ?? opts.storage_capacity !== null;
}
