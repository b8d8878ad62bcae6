/** One user server as one Docker container. */
import { formatTemplate, ProgressQueue, SpawnError, type JsonObject, type PollResult, type ProgressEvent, type SpawnContext, type Spawner } from '@tshub/plugin-api';
import type Docker from 'dockerode';
import { DEFAULT_NOTEBOOK_DIR, type DockerSpawnerConfig } from './config.js';
import { buildCreateOptions, buildMounts, templateFields, type Mount } from './create-options.js';
import { engineMessage, ignoringGone, statusOf } from './docker-errors.js';
import { ensureImage } from './image-pull.js';
import type { DockerShared } from './shared.js';

/** Who the container runs as and what it mounts besides the volumes: the kind-specific part of a spawn. */
export interface Personal {
  /** `uid:gid`, a name, or '' for the image's user. */
  user: string;
  /** Mounts added to the configured volumes (e.g. the host home). */
  mounts: Mount[];
  /** Variables that override the hub's (HOME, NB_UID...). */
  env: Record<string, string>;
  notebookDir: string;
  /** '' keeps the image's WORKDIR. */
  workingDir: string;
  /** Whether the default per-user volume applies when no `volumes` are configured. */
  defaultVolume: boolean;
}

export type Personalize<C> = (ctx: SpawnContext<C, DockerShared>, notebookDir: string) => Promise<Personal>;

/** The docker kind: the configured user/uid, the notebook dir as given, the default volume. */
export const dockerPersonal: Personalize<DockerSpawnerConfig> = async (ctx, notebookDir) => {
  const s = ctx.shared.settings;
  return { user: s.user || (s.uid !== null ? `${s.uid}:${s.gid ?? 0}` : ''), mounts: [], env: {}, notebookDir, workingDir: '', defaultVolume: true };
};

/** Persisted fields, read defensively: state comes back from the database. */
interface Persisted {
  id: string | null;
  name: string | null;
  image: string | null;
  port: number | null;
}

const str = (v: unknown) => (typeof v === 'string' && v ? v : null);

export class DockerSpawner<C extends DockerSpawnerConfig> implements Spawner {
  readonly #ctx: SpawnContext<C, DockerShared>;
  readonly #personalize: Personalize<C>;
  readonly #docker: Docker;
  readonly #queue = new ProgressQueue();
  #p: Persisted;
  #reservedPort: number | null = null;

  constructor(ctx: SpawnContext<C, DockerShared>, personalize: Personalize<C>) {
    this.#ctx = ctx;
    this.#personalize = personalize;
    this.#docker = ctx.shared.docker;
    const s = ctx.state;
    // `container_id` is DockerSpawner's legacy key: state written by it still re-adopts.
    this.#p = { id: str(s.object_id) ?? str(s.container_id), name: str(s.object_name), image: str(s.image), port: typeof s.port === 'number' ? s.port : null };
  }

  state(): JsonObject {
    const { id, name, image, port } = this.#p;
    if (!id && !name) return {};
    return { object_id: id, object_name: name, image, ...(port !== null ? { port } : {}) };
  }

  progress(): AsyncIterable<ProgressEvent> {
    return this.#queue.events();
  }

  async start(signal: AbortSignal): Promise<{ url: string }> {
    try {
      return await this.#start(signal);
    } finally {
      this.#queue.end();
    }
  }

  async #start(signal: AbortSignal): Promise<{ url: string }> {
    const ctx = this.#ctx;
    const shared = ctx.shared;
    const s = shared.settings;
    const image = shared.imageFor(ctx.userOptions);
    const fields = templateFields(ctx.user.name, ctx.serverName, s.prefix, image);
    const name = formatTemplate(s.nameTemplate, fields);
    this.#p = { id: null, name, image, port: null };

    shared.checkHubReachable(ctx.env.JUPYTERHUB_API_URL);
    this.#queue.push({ progress: 5, message: `Checking image ${image}` });
    await ensureImage(this.#docker, image, s.pullPolicy, {
      log: ctx.log,
      signal,
      onProgress: (pct, summary) => this.#queue.push({ progress: 10 + Math.floor(pct / 2), message: `Pulling image ${image}: ${summary}` }),
    });
    signal.throwIfAborted();

    // A container under this name is left from an earlier run (the hub issued new credentials since): replace it.
    await ignoringGone(() => this.#docker.getContainer(name).remove({ force: true }), [409]);

    const notebookDir = ctx.common.notebook_dir ? formatTemplate(ctx.common.notebook_dir, fields) : DEFAULT_NOTEBOOK_DIR;
    const personal = await this.#personalize(ctx, notebookDir);
    const host = s.networkName === 'host';
    const port = ctx.common.port || (host ? await this.#reserve() : 8888);
    const bindIp = host ? ctx.common.ip || '127.0.0.1' : '0.0.0.0';
    const mounts = [...buildMounts(s, fields, personal.notebookDir, personal.defaultVolume), ...personal.mounts];
    const labels = this.#labels(image);
    await this.#createVolumes(mounts, labels);

    const create = buildCreateOptions({
      settings: s, common: ctx.common, name, image, env: this.#env(image, bindIp, port, personal), labels, mounts, port,
      workingDir: personal.workingDir, user: personal.user, fields,
    });
    this.#queue.push({ progress: 65, message: `Creating container ${name}` });
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(create);
    } catch (err) {
      const msg = engineMessage(err);
      const reason = statusOf(err) !== 404 ? 'docker-refused' : /network/i.test(msg) ? 'network' : 'image-missing';
      throw new SpawnError(reason, `Docker refused to create the container: ${msg}`, { logMessage: String(err) });
    }
    this.#p = { id: container.id, name, image, port: host ? port : null };
    signal.throwIfAborted();
    try {
      await container.start();
    } catch (err) {
      throw new SpawnError('docker-refused', `Docker could not start the container: ${engineMessage(err)}`, { logMessage: String(err) });
    }
    this.#queue.push({ progress: 75, message: `Container ${name} started` });
    if (s.postStartCmd.length > 0) await this.#exec(container, s.postStartCmd);
    return { url: await this.#url(container, host, port) };
  }

  /** The hub's environment for the container: the host's env_keep copies would mean nothing inside it. */
  #env(image: string, bindIp: string, port: number, personal: Personal): Record<string, string> {
    const ctx = this.#ctx;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.env)) {
      if (ctx.common.env_keep.includes(k) && !(k in ctx.common.environment)) continue;
      env[k] = v;
    }
    env.JUPYTERHUB_SERVICE_URL = `http://${bindIp}:${port}${ctx.servicePrefix}`;
    env.JUPYTER_IMAGE_SPEC = image;
    env.JUPYTER_IMAGE = image;
    env.JUPYTERHUB_ROOT_DIR ??= personal.notebookDir;
    return { ...env, ...personal.env };
  }

  #labels(image: string): Record<string, string> {
    const extra = (this.#ctx.shared.settings.extraCreate.Labels ?? this.#ctx.shared.settings.extraCreate.labels) as Record<string, string> | undefined;
    return { ...extra, 'tshub.user': this.#ctx.user.name, 'tshub.server': this.#ctx.serverName, 'tshub.image': image };
  }

  /** Named volumes are created up front so they carry our labels (deleteForever removes only those). */
  async #createVolumes(mounts: Mount[], labels: Record<string, string>): Promise<void> {
    const { 'tshub.image': _image, 'tshub.server': _server, ...volumeLabels } = labels;
    for (const m of mounts.filter((x) => x.named)) {
      const exists = await this.#docker.getVolume(m.source).inspect().then(() => true, (e: unknown) => (statusOf(e) === 404 ? false : Promise.reject(e)));
      if (!exists) await this.#docker.createVolume({ Name: m.source, Labels: volumeLabels });
    }
  }

  async #reserve(): Promise<number> {
    this.#reservedPort = await this.#ctx.shared.reservePort();
    return this.#reservedPort;
  }

  async #url(container: Docker.Container, host: boolean, port: number): Promise<string> {
    if (host) return `http://127.0.0.1:${port}`;
    const info = await container.inspect();
    const s = this.#ctx.shared.settings;
    if (s.useInternalIp) {
      const ip = info.NetworkSettings.Networks[s.networkName]?.IPAddress;
      if (!ip) throw new SpawnError('network', `The container is not attached to the Docker network ${JSON.stringify(s.networkName)}`);
      return `http://${ip}:${port}`;
    }
    const binding = (info.NetworkSettings.Ports as Record<string, { HostIp: string; HostPort: string }[] | null>)[`${port}/tcp`]?.[0];
    if (!binding) throw new SpawnError('network', `Docker published no host port for the container's port ${port}`);
    const ip = !binding.HostIp || binding.HostIp === '0.0.0.0' ? '127.0.0.1' : binding.HostIp === '::' ? '[::1]' : binding.HostIp;
    return `http://${ip}:${binding.HostPort}`;
  }

  /** post_start_cmd: output at debug, errors at warning; a failing command does not fail the spawn (as DockerSpawner). */
  async #exec(container: Docker.Container, cmd: string[]): Promise<void> {
    const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('error', () => resolve());
    });
    // The stream can end a moment before the engine records the exit code.
    let done = await exec.inspect();
    for (let i = 0; i < 50 && done.Running; i++) done = await new Promise((r) => setTimeout(r, 20)).then(() => exec.inspect());
    const { ExitCode } = done;
    const output = demux(Buffer.concat(chunks));
    if (ExitCode !== 0) this.#ctx.log.warn({ cmd, exitCode: ExitCode, output: output.slice(-2000) }, 'post_start_cmd failed');
    else this.#ctx.log.debug({ cmd, output: output.slice(-2000) }, 'post_start_cmd ran');
  }

  #container(): Docker.Container | null {
    const ref = this.#p.id ?? this.#p.name;
    return ref ? this.#docker.getContainer(ref) : null;
  }

  async poll(): Promise<PollResult> {
    const c = this.#container();
    if (!c) return { running: false };
    let result: PollResult;
    try {
      const info = await c.inspect();
      result = info.State.Running ? { running: true } : { running: false, exitCode: info.State.ExitCode };
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      result = { running: false };
    }
    // The hub forgets a dead server without calling stop: give its port back here.
    if (!result.running) this.#releasePort();
    return result;
  }

  #releasePort(): void {
    if (this.#reservedPort !== null) this.#ctx.shared.releasePort(this.#reservedPort);
    this.#reservedPort = null;
  }

  async stop(opts: { now: boolean }): Promise<void> {
    const c = this.#container();
    if (c) {
      await ignoringGone(() => c.stop({ t: opts.now ? 0 : this.#ctx.shared.settings.stopTimeout }), [304]);
      if (this.#ctx.shared.settings.remove) {
        // 409: removal already in progress (a concurrent stop).
        await ignoringGone(() => c.remove({ force: true, v: false }), [409]);
        this.#p = { ...this.#p, id: null };
      }
    }
    this.#releasePort();
  }

  /** The container's last output, shown with a failed spawn. */
  async lastOutput(): Promise<string> {
    const c = this.#container();
    if (!c) return '';
    const buf = (await c.logs({ stdout: true, stderr: true, tail: 20 })) as unknown as Buffer;
    return demux(Buffer.isBuffer(buf) ? buf : Buffer.from(String(buf)));
  }

  /** Removes the container and the named volumes this hub created for the user. */
  async deleteForever(): Promise<void> {
    await this.stop({ now: true });
    const c = this.#container();
    if (c) await ignoringGone(() => c.remove({ force: true }), [409]);
    const { Volumes } = await this.#docker.listVolumes({ filters: JSON.stringify({ label: [`tshub.user=${this.#ctx.user.name}`] }) });
    const s = this.#ctx.shared.settings;
    const fields = templateFields(this.#ctx.user.name, this.#ctx.serverName, s.prefix, this.#p.image ?? s.image);
    const ours = new Set(buildMounts(s, fields, DEFAULT_NOTEBOOK_DIR, true).filter((m) => m.named).map((m) => m.source));
    for (const v of Volumes ?? []) if (ours.has(v.Name)) await ignoringGone(() => this.#docker.getVolume(v.Name).remove(), [409]);
  }
}

/** Docker's multiplexed stream (8-byte frame headers) as text; plain text passes through. */
export function demux(buf: Buffer): string {
  const parts: string[] = [];
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2 || buf[i] === 0) && buf[i + 1] === 0) {
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len).toString('utf8'));
    i += 8 + len;
  }
  return i === 0 ? buf.toString('utf8') : parts.join('') + buf.subarray(i).toString('utf8');
}
