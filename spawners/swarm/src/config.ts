import type { JsonSchema } from '@tshub/plugin-api';

import { dockerConfigSchema, type PullPolicy, type VolumeTarget } from '@tshub/spawner-docker';

/** The docker kind's policies; 'skip' is SwarmSpawner's name for what is 'ifnotpresent' on a Swarm. */
export type SwarmPullPolicy = PullPolicy | 'skip';

/** Options of the `swarm` kind (JupyterHub's SwarmSpawner). Every key is optional; defaults live here. */
export interface SwarmConfig {
  image?: string;
  /** A list of images, or label -> image: a choice on the spawn form (the docker kind's option). */
  allowed_images?: string[] | Record<string, string>;
  /** See the schema's description: what each policy means when the node running the task does the pulling. */
  pull_policy?: SwarmPullPolicy;
  prefix?: string;
  name_template?: string;
  volumes?: Record<string, VolumeTarget>;
  read_only_volumes?: Record<string, string>;
  network_name?: 'host';
  /** Placement constraints, e.g. `node.labels.course==ml` (`constraints` is an alias). */
  placement?: string[];
  constraints?: string[];
  /** Container user (`uid:gid` or a name the image knows). */
  user?: string;
  /** Where the hub reaches servers; default: the task's node address (loopback when ip is loopback). */
  host_ip?: string;
  /** Labels added to every service and volume (on top of tshub's own). */
  labels?: Record<string, string>;
  /** Seconds a task may wait for a node that satisfies its constraints and resources before the spawn fails. */
  scheduling_timeout?: number;
  /** Seconds a pre-pull may take on all nodes. */
  pre_pull_timeout?: number;
  /** Seconds a stopping server gets between SIGTERM and SIGKILL. */
  stop_timeout?: number;
  /** Raw Engine API fields merged into ContainerSpec / TaskTemplate.Resources / Placement. */
  extra_container_spec?: Record<string, unknown>;
  extra_resources_spec?: Record<string, unknown>;
  extra_placement_spec?: Record<string, unknown>;
}

export const DEFAULTS = {
  image: 'quay.io/jupyterhub/singleuser:latest',
  pull_policy: 'ifnotpresent',
  prefix: 'jupyter',
  name_template: '{prefix}-{escaped_username}{servername_suffix}',
  notebook_dir: '/home/jovyan/work',
  scheduling_timeout: 5,
  pre_pull_timeout: 600,
} as const;

const stringMap = (description: string): JsonSchema => ({ type: 'object', additionalProperties: { type: 'string' }, description });
const stringList = (description: string): JsonSchema => ({ type: 'array', items: { type: 'string' }, description });
const object = (description: string): JsonSchema => ({ type: 'object', description });

/** The options this kind adds to the `spawner:` section. */
export const swarmConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    image: { type: 'string', minLength: 1, default: DEFAULTS.image, description: 'Image every server runs (a rolling update can change it at run time).' },
    allowed_images: (dockerConfigSchema.properties as Record<string, JsonSchema>).allowed_images,
    pull_policy: {
      enum: ['ifnotpresent', 'always', 'never', 'skip'], default: DEFAULTS.pull_policy,
      description: "On a Swarm the engine of the node that runs a server pulls its image. 'ifnotpresent' (default; 'skip' is SwarmSpawner's name for the same): nothing is checked or pulled ahead, the node's engine fetches the image when it starts the task (Swarm asks the registry for a tag each time and uses the node's own copy when it cannot). 'always': before the service is created, every node the placement allows pulls the image (a short-lived global service, reported as spawn progress per node); a node that can neither pull nor find it fails the spawn with the reason and no service is created (a node whose registry is unreachable but which has a copy uses that copy, as the docker kind does). 'never': nothing is pulled; the spawn fails at once, before any service exists, when the image is not on the Swarm manager's engine (the one the hub talks to: other nodes are not checked and must have it too). The pre-pull API follows the same policy.",
    },
    prefix: { type: 'string', default: DEFAULTS.prefix, description: 'Fills {prefix} in name_template.' },
    name_template: {
      type: 'string', default: DEFAULTS.name_template,
      description: 'Service name: {prefix}, {username}, {escaped_username}, {servername}, {escaped_servername}, {servername_suffix} (-- plus the escaped server name, or empty).',
    },
    volumes: {
      type: 'object',
      additionalProperties: {
        anyOf: [
          { type: 'string' },
          { type: 'object', properties: { bind: { type: 'string' }, mode: { enum: ['rw', 'ro'] } }, required: ['bind'], additionalProperties: false },
        ],
      },
      description: 'Volume or host path -> container path (or {bind, mode}). A source starting with / is a bind mount, else a named volume (kept on stop). Templated like name_template. Default: a named volume jupyterhub-user-{escaped_username} at the notebook directory (/home/jovyan/work unless notebook_dir is set).',
    },
    read_only_volumes: stringMap('Like volumes, mounted read-only.'),
    network_name: { enum: ['host'], default: 'host', description: "Only 'host': servers use the node's network on a free port (no overlay network or ingress)." },
    placement: stringList('Placement constraints, e.g. node.labels.course==ml.'),
    constraints: stringList('Alias of placement.'),
    user: { type: 'string', description: 'User the container runs as (uid:gid or a name the image knows); default: the image\'s.' },
    host_ip: { type: 'string', description: "Address the hub connects to; default: the task node's address (127.0.0.1 when ip is loopback)." },
    labels: stringMap('Labels added to every service and volume this spawner creates.'),
    scheduling_timeout: { type: 'number', minimum: 0, default: DEFAULTS.scheduling_timeout, description: 'Seconds a task may wait for a node that satisfies its constraints and resources before the spawn fails with the reason.' },
    stop_timeout: { type: 'number', minimum: 0, default: 10, description: 'Seconds a graceful stop waits after SIGTERM before the container is killed.' },
    pre_pull_timeout: { type: 'number', minimum: 1, default: DEFAULTS.pre_pull_timeout, description: 'Seconds a pre-pull may take on all nodes.' },
    extra_container_spec: object('Engine API ContainerSpec fields merged over the generated ones.'),
    extra_resources_spec: object('Engine API Resources fields merged over the generated ones.'),
    extra_placement_spec: object('Engine API Placement fields merged over the generated ones.'),
  },
};
