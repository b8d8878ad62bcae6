import type Docker from 'dockerode';
import { formatTemplate, type SpawnerCommonConfig } from '@tshub/plugin-api';
import { buildMounts as dockerMounts, resolveSettings } from '@tshub/spawner-docker';
import { DEFAULTS, type SwarmConfig } from './config.js';

/** Labels that mark what tshub created, so an operator (and a test teardown) can find it. */
export const LABEL_SPAWNER = 'org.tshub.spawner';
export const LABEL_USER = 'org.tshub.user';
export const LABEL_SERVER = 'org.tshub.server';

/** Everything the pure builder needs; the spawner gathers it (port, env) before creating. */
export interface ServiceInput {
  name: string;
  image: string;
  user: string;
  server: string;
  port: number;
  /** The server's complete environment (the hub's plus JUPYTERHUB_SERVICE_URL). */
  env: Readonly<Record<string, string>>;
  config: SwarmConfig;
  common: SpawnerCommonConfig;
  /** Fills {username}... in volume sources. */
  values: Record<string, string>;
}

type Mount = NonNullable<Docker.ContainerSpec['Mounts']>[number];

/**
 * The docker kind's volumes (same options, same default: a named volume per user at the notebook
 * directory) as Swarm mounts; named volumes carry the labels so they can be found later.
 */
export function buildMounts(config: SwarmConfig, values: Record<string, string>, labels: Record<string, string>, notebookDir: string): Mount[] {
  const settings = resolveSettings({ volumes: config.volumes ?? {}, read_only_volumes: config.read_only_volumes ?? {} });
  return dockerMounts(settings, values, notebookDir, true).map((m) => ({
    Type: m.named ? 'volume' : 'bind',
    Source: m.source,
    Target: m.target,
    ReadOnly: m.readOnly,
    ...(m.named ? { VolumeOptions: { Labels: labels } } : {}),
  }) as Mount);
}

/** The labels of a server's service and volumes. */
export function serverLabels(config: SwarmConfig, user: string, server: string): Record<string, string> {
  return { ...config.labels, [LABEL_SPAWNER]: 'swarm', [LABEL_USER]: user, [LABEL_SERVER]: server };
}

/** The server's notebook directory in the container (also where the default volume goes). */
export function notebookDir(common: Pick<SpawnerCommonConfig, 'notebook_dir'>, values: Record<string, string>): string {
  return common.notebook_dir ? formatTemplate(common.notebook_dir, values) : DEFAULTS.notebook_dir;
}

/** `cmd` + `args`, or nothing (the image's CMD) when cmd is empty. */
function command(common: SpawnerCommonConfig): string[] | undefined {
  return common.cmd.length > 0 ? [...common.cmd, ...common.args] : undefined;
}

/**
 * The Engine API spec of one user server: a single replica that is never restarted (the hub decides
 * about restarts), on the host network (no ingress, nothing published), with limits and reservations
 * from the common mem/cpu options.
 */
export function buildServiceSpec(input: ServiceInput): Docker.CreateServiceOptions {
  const { config, common } = input;
  const labels = serverLabels(config, input.user, input.server);
  const cmd = command(common);
  const argsOnly = !cmd && common.args.length > 0 ? [...common.args] : undefined;
  const containerSpec: Docker.ContainerSpec = {
    Image: input.image,
    Labels: labels,
    Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
    Mounts: buildMounts(config, input.values, labels, notebookDir(common, input.values)),
    ...(cmd ? { Command: cmd } : {}),
    ...(argsOnly ? { Args: argsOnly } : {}),
    ...(config.user ? { User: config.user } : {}),
    Dir: notebookDir(common, input.values),
    StopGracePeriod: Math.round((config.stop_timeout ?? 10) * 1e9),
    ...config.extra_container_spec,
  };
  const limits = { ...(common.mem_limit ? { MemoryBytes: common.mem_limit } : {}), ...(common.cpu_limit ? { NanoCPUs: Math.round(common.cpu_limit * 1e9) } : {}) };
  const reservations = { ...(common.mem_guarantee ? { MemoryBytes: common.mem_guarantee } : {}), ...(common.cpu_guarantee ? { NanoCPUs: Math.round(common.cpu_guarantee * 1e9) } : {}) };
  const constraints = [...(config.placement ?? []), ...(config.constraints ?? [])];
  return {
    Name: input.name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: containerSpec,
      Resources: { Limits: limits, Reservations: reservations, ...config.extra_resources_spec },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: constraints, ...config.extra_placement_spec },
      Networks: [{ Target: 'host' }],
    },
    Mode: { Replicated: { Replicas: 1 } },
  };
}
