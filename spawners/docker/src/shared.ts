/** The hub-lifetime half of the docker kinds: one Docker client, the image choice, pre-pull, ports. */
import path from 'node:path';
import type Docker from 'dockerode';
import { formatTemplate, HubError, releasePort, reservePort, type JsonObject, type PluginLogger, type PrePullProgress, type SpawnerCommonConfig, type SpawnerShared, type SpawnUser } from '@tshub/plugin-api';
import { resolveSettings, type DockerSettings, type DockerSpawnerConfig } from './config.js';
import { isValidContainerName, templateFields } from './create-options.js';
import { ensureImage, imagePresent } from './image-pull.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Checks what the schema cannot: relations between keys, paths, names. Every problem names its key. */
export function configProblems(s: DockerSettings, common: SpawnerCommonConfig): string[] {
  const out: string[] = [];
  if (common.mem_limit !== null && common.mem_limit <= 0) out.push('spawner.mem_limit: must be a positive size such as 512M or 2G');
  if (common.mem_limit && common.mem_guarantee && common.mem_guarantee > common.mem_limit) {
    out.push(`spawner.mem_guarantee: ${common.mem_guarantee} bytes is more than spawner.mem_limit (${common.mem_limit} bytes)`);
  }
  if (common.cpu_limit !== null && common.cpu_limit <= 0) out.push('spawner.cpu_limit: must be greater than 0 (cores)');
  if (common.cpu_guarantee !== null && common.cpu_guarantee < 0) out.push('spawner.cpu_guarantee: must not be negative');
  const sample = formatTemplate(s.nameTemplate, templateFields('student', 'lab', s.prefix, s.image));
  if (!isValidContainerName(sample)) out.push(`spawner.name_template: gives ${JSON.stringify(sample)}, not a valid container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)`);
  for (const [key, vols] of [['volumes', s.volumes], ['read_only_volumes', s.readOnlyVolumes]] as const) {
    for (const [src, t] of Object.entries(vols)) {
      const target = typeof t === 'string' ? t : t.bind;
      if (!path.isAbsolute(target)) out.push(`spawner.${key}[${JSON.stringify(src)}]: the container path ${JSON.stringify(target)} must be absolute`);
    }
  }
  if (s.user && s.uid !== null) out.push('spawner.uid: set either user or uid, not both');
  if (s.gid !== null && s.uid === null) out.push('spawner.gid: needs spawner.uid');
  return out;
}

/** A day: released at stop; a hub restart starts with nothing held anyway. */
const HOLD_UNTIL_STOP_MS = 24 * 3600 * 1000;

export class DockerShared implements SpawnerShared {
  readonly docker: Docker;
  readonly settings: DockerSettings;
  readonly log: PluginLogger;
  #imageOverride: string | null = null;
  /** Ports handed to spawns still starting, so two concurrent host-network spawns never share one. */

  constructor(docker: Docker, settings: DockerSettings, log: PluginLogger) {
    this.docker = docker;
    this.settings = settings;
    this.log = log;
  }

  #warnedLoopback = false;

  /**
   * Containers outside the host network cannot reach a hub API on the host's loopback; say so once,
   * since the symptom (servers that never become ready) does not point at the cause.
   */
  checkHubReachable(hubApiUrl: string | undefined): void {
    if (this.#warnedLoopback || !hubApiUrl || this.settings.networkName === 'host') return;
    const host = URL.canParse(hubApiUrl) ? new URL(hubApiUrl).hostname : '';
    if (host === 'localhost' || host.startsWith('127.') || host === '[::1]') {
      this.#warnedLoopback = true;
      this.log.warn({ hubApiUrl, network: this.settings.networkName }, `containers on the Docker network ${JSON.stringify(this.settings.networkName)} cannot reach the hub at ${hubApiUrl}; set hub.hub_ip to an address they can reach or hub.hub_connect_url`);
    }
  }

  /** The image new servers start from when the user chose none: the rolling-update override, else `image`. */
  get defaultImage(): string {
    return this.#imageOverride ?? this.settings.image;
  }

  setImage(image: string | null): void {
    this.#imageOverride = image;
    this.log.info({ image: this.defaultImage }, 'default image for new servers');
  }

  imageOf(state: JsonObject): string | null {
    return typeof state.image === 'string' ? state.image : null;
  }

  optionsForm(_user: SpawnUser): string | null {
    const entries = Object.entries(this.settings.allowedImages);
    if (entries.length < 2) return null;
    const options = entries
      .map(([label, image]) => `<option value="${escapeHtml(label)}"${image === this.defaultImage ? ' selected' : ''}>${escapeHtml(label === image ? image : `${label} (${image})`)}</option>`)
      .join('');
    return `<label for="image">Image</label>\n<select class="form-control" name="image" id="image">${options}</select>`;
  }

  /** Resolves `image` (a label or an image of allowed_images) to the image; anything else is a 400. */
  checkUserOptions(options: JsonObject, _user: SpawnUser): JsonObject {
    const raw = Array.isArray(options.image) ? options.image[0] : options.image;
    if (raw === undefined || raw === null || raw === '') {
      const { image: _drop, ...rest } = options;
      return rest;
    }
    if (typeof raw !== 'string') throw new HubError(400, 'user_options.image must be a string');
    const allowed = this.settings.allowedImages;
    const image = allowed[raw] ?? Object.values(allowed).find((i) => i === raw);
    if (image) return { ...options, image };
    // Without allowed_images nobody chooses: asking for the default is harmless, anything else is refused.
    if (Object.keys(allowed).length === 0 && raw === this.defaultImage) return { ...options, image: raw };
    const choices = Object.keys(allowed);
    throw new HubError(400, choices.length ? `Image ${JSON.stringify(raw)} is not allowed; choose one of: ${choices.join(', ')}` : `Image ${JSON.stringify(raw)} is not allowed: this hub does not let users choose an image`);
  }

  /** The image a spawn runs: the user's (already checked) choice, else the default. */
  imageFor(userOptions: JsonObject): string {
    return typeof userOptions.image === 'string' && userOptions.image ? userOptions.image : this.defaultImage;
  }

  /** A port for a container on the host network, held until its server stops (shared with every kind in the hub). */
  reservePort(): Promise<number> {
    return reservePort('127.0.0.1', HOLD_UNTIL_STOP_MS);
  }

  releasePort(port: number): void {
    releasePort(port);
  }

  async prePull(onProgress: (e: PrePullProgress) => void, signal?: AbortSignal): Promise<{ image: string; ok: boolean; message: string }[]> {
    const images = [...new Set([this.defaultImage, ...Object.values(this.settings.allowedImages)])];
    const results: { image: string; ok: boolean; message: string }[] = [];
    for (const image of images) {
      if (signal?.aborted) throw signal.reason;
      const had = await imagePresent(this.docker, image).catch(() => false);
      onProgress({ image, progress: 0, message: had ? `${image} is present` : `pulling ${image}` });
      try {
        await ensureImage(this.docker, image, this.settings.pullPolicy, {
          log: this.log,
          signal,
          onProgress: (progress, summary) => onProgress({ image, progress, message: `pulling ${image}: ${summary}` }),
        });
        const message = had && this.settings.pullPolicy !== 'always' ? 'already present' : 'pulled';
        onProgress({ image, progress: 100, message: `${image}: ${message}` });
        results.push({ image, ok: true, message });
      } catch (err) {
        if (signal?.aborted) throw err;
        const message = (err as Error).message;
        onProgress({ image, progress: 100, message });
        results.push({ image, ok: false, message });
      }
    }
    return results;
  }

  async close(): Promise<void> {
    // dockerode keeps no open connection between calls; nothing to end.
  }
}

/** openShared for both kinds: validates what the schema cannot and checks that the engine answers. */
export async function openDockerShared(ctx: { config: DockerSpawnerConfig; common: SpawnerCommonConfig; log: PluginLogger }): Promise<DockerShared> {
  const settings = resolveSettings(ctx.config);
  const problems = configProblems(settings, ctx.common);
  if (problems.length > 0) throw new HubError(500, `Invalid spawner configuration:\n  ${problems.join('\n  ')}`);
  // DOCKER_HOST / DOCKER_CERT_PATH are honoured, as by the docker CLI.
  const { default: Docker } = await import('dockerode');
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err) {
    const where = process.env.DOCKER_HOST || '/var/run/docker.sock';
    throw new HubError(500, `spawner.kind: no Docker engine answers at ${where} (${(err as Error).message}); start dockerd or set DOCKER_HOST`);
  }
  return new DockerShared(docker, settings, ctx.log);
}
