import type { JsonSchema } from '@tshub/plugin-api';

export type PullPolicy = 'ifnotpresent' | 'always' | 'never';

/** A volume target: a container path, or DockerSpawner's `{bind, mode}` form. */
export type VolumeTarget = string | { bind: string; mode?: string };

/** The `docker` kind's options (DockerSpawner's names), as they come from the validated config. */
export interface DockerSpawnerConfig {
  image?: string;
  /** A list of images, or label -> image; offered as a choice on the spawn form. */
  allowed_images?: string[] | Record<string, string>;
  pull_policy?: PullPolicy;
  network_name?: string;
  /** null: automatic (true for a named network, false for host and bridge). */
  use_internal_ip?: boolean | null;
  host_ip?: string;
  volumes?: Record<string, VolumeTarget>;
  read_only_volumes?: Record<string, VolumeTarget>;
  extra_create_kwargs?: Record<string, unknown>;
  extra_host_config?: Record<string, unknown>;
  name_template?: string;
  prefix?: string;
  remove?: boolean;
  post_start_cmd?: string | string[];
  user?: string;
  uid?: number | null;
  gid?: number | null;
  /** Seconds `docker stop` waits before it kills (a graceful stop). */
  stop_timeout?: number;
}

/** SystemUserSpawner adds where homes live on the host and in the container. */
export interface SystemUserDockerConfig extends DockerSpawnerConfig {
  host_homedir_format_string?: string;
  image_homedir_format_string?: string;
}

/** The options with DockerSpawner's defaults applied. */
export interface DockerSettings {
  image: string;
  allowedImages: Record<string, string>;
  pullPolicy: PullPolicy;
  networkName: string;
  useInternalIp: boolean;
  hostIp: string;
  volumes: Record<string, VolumeTarget>;
  readOnlyVolumes: Record<string, VolumeTarget>;
  extraCreate: Record<string, unknown>;
  extraHost: Record<string, unknown>;
  nameTemplate: string;
  prefix: string;
  remove: boolean;
  postStartCmd: string[];
  user: string;
  uid: number | null;
  gid: number | null;
  stopTimeout: number;
}

export const DEFAULT_IMAGE = 'quay.io/jupyterhub/singleuser:5';
/** `{servername_suffix}` is `--<escaped server name>` for a named server and empty otherwise. */
export const DEFAULT_NAME_TEMPLATE = '{prefix}-{escaped_username}{servername_suffix}';
/** The persistent per-user volume used when no `volumes` are configured. */
export const DEFAULT_VOLUME_NAME = 'jupyterhub-user-{escaped_username}';
export const DEFAULT_NOTEBOOK_DIR = '/home/jovyan/work';

/** Applies defaults; `allowed_images` as a list becomes image -> image. */
export function resolveSettings(c: DockerSpawnerConfig): DockerSettings {
  const allowed = Array.isArray(c.allowed_images) ? Object.fromEntries(c.allowed_images.map((i) => [i, i])) : { ...c.allowed_images };
  const network = c.network_name || 'bridge';
  const post = c.post_start_cmd;
  return {
    image: c.image || DEFAULT_IMAGE,
    allowedImages: allowed,
    pullPolicy: c.pull_policy ?? 'ifnotpresent',
    networkName: network,
    // As in DockerSpawner: only a user-defined network implies reaching the container by its own IP.
    useInternalIp: c.use_internal_ip ?? !['bridge', 'host'].includes(network),
    hostIp: c.host_ip || '127.0.0.1',
    volumes: { ...c.volumes },
    readOnlyVolumes: { ...c.read_only_volumes },
    extraCreate: { ...c.extra_create_kwargs },
    extraHost: { ...c.extra_host_config },
    nameTemplate: c.name_template || DEFAULT_NAME_TEMPLATE,
    prefix: c.prefix ?? 'jupyter',
    remove: c.remove ?? true,
    postStartCmd: typeof post === 'string' ? (post ? ['sh', '-c', post] : []) : [...(post ?? [])],
    user: c.user ?? '',
    uid: c.uid ?? null,
    gid: c.gid ?? null,
    stopTimeout: c.stop_timeout ?? 10,
  };
}

const volumeMap = (description: string): JsonSchema => ({
  type: 'object',
  description,
  additionalProperties: {
    anyOf: [
      { type: 'string', minLength: 1 },
      { type: 'object', properties: { bind: { type: 'string', minLength: 1 }, mode: { type: 'string', enum: ['rw', 'ro', 'z', 'Z'] } }, required: ['bind'], additionalProperties: false },
    ],
  },
});

/** JSON Schema of the `docker` kind's options (properties only; the hub adds the common ones). */
export const dockerConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    image: { type: 'string', minLength: 1, description: `Image user servers run (must contain jupyterhub-singleuser); default ${DEFAULT_IMAGE}.` },
    allowed_images: {
      description: 'Images a user may choose: a list, or label -> image. More than one entry shows a choice on the spawn form; an image sent in user_options that is not here is refused with 400.',
      anyOf: [
        { type: 'array', items: { type: 'string', minLength: 1 } },
        { type: 'object', additionalProperties: { type: 'string', minLength: 1 } },
      ],
    },
    pull_policy: { type: 'string', enum: ['ifnotpresent', 'always', 'never'], description: "When to pull the image: 'ifnotpresent' (default), 'always', or 'never' (a missing image fails the spawn at once)." },
    network_name: { type: 'string', description: "Docker network: 'bridge' (default; a published port on host_ip), 'host' (the host's network; each server gets a free port on 127.0.0.1) or a user-defined network." },
    use_internal_ip: { type: ['boolean', 'null'], description: "Reach the server at the container's IP on network_name instead of a published port; default true for a user-defined network." },
    host_ip: { type: 'string', description: 'Host interface for the published port (bridge network); default 127.0.0.1.' },
    volumes: volumeMap('Host path or volume name -> container path (or {bind, mode}); {username}, {escaped_username}, {servername} are expanded. Default: a named volume jupyterhub-user-{escaped_username} at the notebook directory.'),
    read_only_volumes: volumeMap('Like volumes, always mounted read-only.'),
    extra_create_kwargs: { type: 'object', description: 'Merged into the Docker Engine create-container body (e.g. {"User": "1000", "WorkingDir": "/srv"}); snake_case keys such as working_dir are accepted; strings are templated.' },
    extra_host_config: { type: 'object', description: 'Merged into HostConfig (e.g. {"ShmSize": 1073741824, "DeviceRequests": [...]}); snake_case keys are accepted.' },
    name_template: { type: 'string', minLength: 1, description: `Container name; fields {prefix}, {username}, {escaped_username}, {servername}, {escaped_servername}, {servername_suffix}, {imagename}. Default ${DEFAULT_NAME_TEMPLATE}.` },
    prefix: { type: 'string', description: "The {prefix} field of name_template; default 'jupyter'." },
    remove: { type: 'boolean', description: 'Delete the container when the server stops (volumes are kept); default true.' },
    post_start_cmd: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], description: 'Command run in the container (docker exec) right after it starts; a string runs through sh -c.' },
    user: { type: 'string', description: 'Container user (name or uid[:gid]); default: the image\'s.' },
    uid: { type: ['integer', 'null'], minimum: 0, description: 'Run the container as this uid (with gid, or gid 0 by default).' },
    gid: { type: ['integer', 'null'], minimum: 0, description: 'Group id for uid.' },
    stop_timeout: { type: 'number', minimum: 0, description: 'Seconds a graceful stop waits before the container is killed; default 10.' },
  },
};

/** SystemUserSpawner's extra options. */
export const systemUserConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    ...(dockerConfigSchema.properties as Record<string, unknown>),
    host_homedir_format_string: { type: 'string', description: "The user's home on the host ({username} expanded); default: the home in the host's passwd database." },
    image_homedir_format_string: { type: 'string', description: 'Where the home is mounted in the container; default: the same path as on the host.' },
  },
};
