import type Docker from 'dockerode';
import { HubError, type JsonObject, type PluginLogger, type PrePullProgress, type SpawnerShared, type SpawnUser } from '@tshub/plugin-api';
import { DockerShared, imagePresent, resolveSettings, type PullPolicy } from '@tshub/spawner-docker';
import { DEFAULTS, type SwarmConfig } from './config.js';
import { prePullOnNodes, type PrePullResult } from './prepull.js';

/** A Swarm node as the spawner shows it: its hostname (for people) and address (to reach servers). */
export interface NodeInfo {
  name: string;
  addr: string;
}

/**
 * The hub-lifetime half of the swarm kind: one Docker client for every server, the node cache, the
 * image choice (default, rolling update, allowed_images) and the pre-pull.
 */
export class SwarmShared implements SpawnerShared {
  readonly docker: Docker;
  readonly config: SwarmConfig;
  readonly log: PluginLogger;
  readonly #nodes = new Map<string, NodeInfo>();
  /**
   * The docker kind's image choice, unchanged: the spawn form's select, the 400 for an image outside
   * allowed_images, the rolling update's override. Its engine-side parts (ports, pulls) are not used.
   */
  readonly #images: DockerShared;

  constructor(docker: Docker, config: SwarmConfig, log: PluginLogger) {
    this.docker = docker;
    this.config = config;
    this.log = log;
    const settings = resolveSettings({ image: config.image ?? DEFAULTS.image, pull_policy: this.pullPolicy, ...(config.allowed_images ? { allowed_images: config.allowed_images } : {}) });
    this.#images = new DockerShared(docker, settings, log);
  }

  /** spawner.pull_policy, with SwarmSpawner's 'skip' read as the 'ifnotpresent' it means here. */
  get pullPolicy(): PullPolicy {
    const p = this.config.pull_policy ?? DEFAULTS.pull_policy;
    return p === 'skip' ? 'ifnotpresent' : p;
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

  /** The image new servers start from when the user chose none: a rolling update's choice, else spawner.image. */
  currentImage(): string {
    return this.#images.defaultImage;
  }

  /** The image a spawn runs: the user's choice (checkUserOptions already resolved it), else the default. */
  imageFor(userOptions: JsonObject): string {
    return this.#images.imageFor(userOptions);
  }

  setImage(image: string | null): void {
    this.#images.setImage(image);
  }

  imageOf(state: JsonObject): string | null {
    return this.#images.imageOf(state);
  }

  optionsForm(user: SpawnUser): string | null {
    return this.#images.optionsForm(user);
  }

  checkUserOptions(options: JsonObject, user: SpawnUser): JsonObject {
    return this.#images.checkUserOptions(options, user);
  }

  /** Every image a server may start from: the default and the allowed ones (what a pre-pull fetches). */
  images(): string[] {
    return [...new Set([this.currentImage(), ...Object.values(this.#images.settings.allowedImages)])];
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
    return prePullOnNodes(this, this.images(), onProgress, signal);
  }

  async close(): Promise<void> {
    // dockerode keeps no connection open between requests.
  }
}
