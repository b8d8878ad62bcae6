import type Docker from 'dockerode';
import { HubError, type JsonObject, type PluginLogger, type PrePullProgress, type SpawnerShared } from '@tshub/plugin-api';
import { imagePresent } from '@tshub/spawner-docker';
import { DEFAULTS, type SwarmConfig } from './config.js';
import { prePullOnNodes, type PrePullResult } from './prepull.js';

/** A Swarm node as the spawner shows it: its hostname (for people) and address (to reach servers). */
export interface NodeInfo {
  name: string;
  addr: string;
}


/**
 * The hub-lifetime half of the swarm kind: one Docker client for every server, the node cache, the
 * image a rolling update chose, and the pre-pull.
 */
export class SwarmShared implements SpawnerShared {
  readonly docker: Docker;
  readonly config: SwarmConfig;
  readonly log: PluginLogger;
  readonly #nodes = new Map<string, NodeInfo>();
  #imageOverride: string | null = null;

  constructor(docker: Docker, config: SwarmConfig, log: PluginLogger) {
    this.docker = docker;
    this.config = config;
    this.log = log;
  }

  /**
   * Connects ($DOCKER_HOST or the local socket) and checks that the engine is a Swarm manager: services
   * can only be created there, and a hub on a worker would otherwise fail every spawn.
   */
  static async open(config: SwarmConfig, log: PluginLogger, docker?: Docker): Promise<SwarmShared> {
    // dockerode is loaded on first use, not at import: `tshub config check` never needs it.
    docker ??= new (await import('dockerode')).default();
    let info: { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    try {
      info = (await docker.info()) as typeof info;
    } catch (err) {
      throw new HubError(500, `spawner.kind swarm: cannot reach the Docker engine (${process.env.DOCKER_HOST ?? '/var/run/docker.sock'}): ${(err as Error).message}`);
    }
    if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
      throw new HubError(500, 'spawner.kind swarm: this Docker engine is not a Swarm manager; run `docker swarm init` (or point DOCKER_HOST at a manager).');
    }
    return new SwarmShared(docker, config, log);
  }

  /** The image new servers start from: a rolling update's choice, else spawner.image. */
  currentImage(): string {
    return this.#imageOverride ?? this.config.image ?? DEFAULTS.image;
  }

  setImage(image: string | null): void {
    this.#imageOverride = image;
    this.log.info({ image: this.currentImage() }, 'new servers will use this image');
  }

  imageOf(state: JsonObject): string | null {
    return typeof state.image === 'string' ? state.image : null;
  }

  /** Placement constraints from `placement` and its alias `constraints`. */
  constraints(): string[] {
    return [...(this.config.placement ?? []), ...(this.config.constraints ?? [])];
  }

  /** A node's hostname and address (cached: they do not change while it is in the swarm). */
  async node(id: string): Promise<NodeInfo> {
    const known = this.#nodes.get(id);
    if (known) return known;
    const n = (await this.docker.getNode(id).inspect()) as { Description?: { Hostname?: string }; Status?: { Addr?: string } };
    const info = { name: n.Description?.Hostname ?? id.slice(0, 12), addr: n.Status?.Addr ?? '' };
    this.#nodes.set(id, info);
    return info;
  }

  /** Whether the manager's engine has `image` locally. */
  hasImage(image: string): Promise<boolean> {
    return imagePresent(this.docker, image);
  }

  prePull(onProgress: (e: PrePullProgress) => void, signal?: AbortSignal): Promise<PrePullResult[]> {
    return prePullOnNodes(this, [this.currentImage()], onProgress, signal);
  }

  async close(): Promise<void> {
    // dockerode keeps no connection open between requests.
  }
}
