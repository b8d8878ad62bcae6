import { setTimeout as sleep } from 'node:timers/promises';
import { ProgressQueue, reservePort, SpawnError, type JsonObject, type PollResult, type ProgressEvent, type SpawnContext, type Spawner } from '@tshub/plugin-api';
import { DEFAULTS, type SwarmConfig } from './config.js';
import { serviceName, templateValues } from './names.js';
import { buildMounts, buildServiceSpec, notebookDir, serverLabels } from './service-spec.js';
import { engineMessage, statusOf } from '@tshub/spawner-docker';
import type { SwarmShared } from './swarm-shared.js';
import { newestTask, viewTask, type TaskInfo } from './task-state.js';
import { pullBeforeSpawn } from './prepull.js';

const isLoopback = (ip: string) => ip === '' || ip === 'localhost' || ip.startsWith('127.') || ip === '::1';
const isWildcard = (ip: string) => ip === '0.0.0.0' || ip === '::';
const urlHost = (h: string) => (h.includes(':') ? `[${h}]` : h);

/** One user server as one Docker service (one replica, never restarted by Swarm). */
export class SwarmSpawner implements Spawner {
  readonly #ctx: SpawnContext<SwarmConfig, SwarmShared>;
  readonly #progress = new ProgressQueue();
  /** Polls see the same task state many times; each message is shown once. */
  #lastMessage = '';
  #serviceId: string | null;
  #serviceName: string | null;
  #image: string | null;
  #port: number | null;

  constructor(ctx: SpawnContext<SwarmConfig, SwarmShared>) {
    this.#ctx = ctx;
    const s = ctx.state;
    this.#serviceId = typeof s.service_id === 'string' ? s.service_id : null;
    this.#serviceName = typeof s.service_name === 'string' ? s.service_name : null;
    this.#image = typeof s.image === 'string' ? s.image : null;
    this.#port = typeof s.port === 'number' ? s.port : null;
  }

  get #docker() {
    return this.#ctx.shared.docker;
  }

  #values(): Record<string, string> {
    return templateValues(this.#ctx.config.prefix ?? DEFAULTS.prefix, this.#ctx.user.name, this.#ctx.serverName, this.#ctx.shared.imageFor(this.#ctx.userOptions));
  }

  async start(signal: AbortSignal): Promise<{ url: string }> {
    try {
      return await this.#start(signal);
    } finally {
      this.#progress.end();
    }
  }

  async #start(signal: AbortSignal): Promise<{ url: string }> {
    const { config, common, shared, servicePrefix } = this.#ctx;
    const values = this.#values();
    let name: string;
    try {
      name = serviceName(config.name_template ?? DEFAULTS.name_template, values);
    } catch (err) {
      throw new SpawnError('bad-config', (err as Error).message);
    }
    const image = shared.imageFor(this.#ctx.userOptions);
    // Only the manager's engine can be asked without creating anything; other nodes are not checked.
    if (shared.pullPolicy === 'never' && !(await shared.hasImage(image))) {
      throw new SpawnError('image-missing', `The image ${image} is not on this Docker engine and spawner.pull_policy is never (checked on the Swarm manager the hub uses, before creating any service; nothing was pulled or created). An admin must pull or build it on every node.`);
    }
    if (shared.pullPolicy === 'always') {
      this.#report({ progress: 1, message: `Pulling ${image} on every eligible node (pull_policy always)` });
      const say = (m: string) => (m === 'image present' ? `${image} is there` : m === 'pulling' ? `pulling ${image}` : m);
      await pullBeforeSpawn(shared, image, (e) => this.#report({ progress: 1 + Math.floor(e.progress / 25), message: `Node ${e.node ?? '?'}: ${say(e.message)}` }), signal);
    }
    // A service left by a hub that crashed mid-spawn would make the create fail with "name conflicts".
    await this.#removeService(name, true);
    const bindIp = common.ip || '127.0.0.1';
    const port = common.port || (await reservePort(isWildcard(bindIp) ? '127.0.0.1' : bindIp));
    const env = { ...this.#ctx.env, JUPYTERHUB_SERVICE_URL: `http://${urlHost(bindIp)}:${port}${servicePrefix}`, JUPYTER_IMAGE_SPEC: image, JUPYTER_IMAGE: image };
    const spec = buildServiceSpec({ name, image, user: this.#ctx.user.name, server: this.#ctx.serverName, port, env, config, common, values });
    // Known before the create, so a stop after an aborted create can still find it by name.
    this.#serviceName = name;
    let service: { id: string };
    try {
      service = await this.#docker.createService({ ...spec, abortSignal: signal });
    } catch (err) {
      if (signal.aborted) throw err;
      // A bad constraint, mount or limit: the engine's words are what an admin needs.
      throw new SpawnError('create-failed', `Docker refused to create the service ${name}: ${engineMessage(err)}`);
    }
    this.#serviceId = service.id;
    this.#image = image;
    this.#port = port;
    this.#report({ progress: 5, message: `Service ${name} created` });
    return { url: `http://${urlHost(await this.#waitRunning(signal, image))}:${port}` };
  }

  /** Follows the service's task until it runs (resolving the host to reach), fails, or the spawn is aborted. */
  async #waitRunning(signal: AbortSignal, image: string): Promise<string> {
    const timeoutMs = (this.#ctx.config.scheduling_timeout ?? DEFAULTS.scheduling_timeout) * 1000;
    let unschedulableSince: number | null = null;
    let delay = 150;
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const tasks = (await this.#docker.listTasks({ filters: { service: [this.#serviceId!] } })) as TaskInfo[];
      const task = newestTask(tasks);
      if (task) {
        const node = task.NodeID ? await this.#ctx.shared.node(task.NodeID) : undefined;
        const view = viewTask(task, image, node?.name);
        if (view.kind === 'running') return this.#connectHost(node?.addr ?? '');
        if (view.kind === 'failed') throw new SpawnError(view.reason, view.message);
        if (view.kind === 'unschedulable') {
          unschedulableSince ??= Date.now();
          if (Date.now() - unschedulableSince >= timeoutMs) throw new SpawnError('unschedulable', view.message);
          this.#report({ progress: 20, message: view.message });
        } else {
          unschedulableSince = null;
          this.#report({ progress: view.progress, message: view.message });
        }
      }
      await sleep(delay, undefined, { signal }).catch(() => undefined);
      delay = Math.min(1000, Math.round(delay * 1.5));
    }
  }

  /** Where the hub reaches a server on `nodeAddr`: host_ip, else loopback for a loopback bind, else the node. */
  #connectHost(nodeAddr: string): string {
    const { config, common } = this.#ctx;
    if (config.host_ip) return config.host_ip;
    if (isLoopback(common.ip)) return common.ip || '127.0.0.1';
    if (isWildcard(common.ip)) return nodeAddr && !isWildcard(nodeAddr) ? nodeAddr : '127.0.0.1';
    return common.ip;
  }

  async stop(opts: { now: boolean }): Promise<void> {
    const ref = this.#serviceId ?? this.#serviceName;
    if (!ref) return;
    await this.#removeService(ref, opts.now);
    this.#serviceId = null;
  }

  /**
   * Removes a service and waits (up to its stop grace period and a margin) until its containers on this
   * engine are gone, so the user's volume is free for the next start. `now` kills them instead of
   * waiting for a graceful exit.
   */
  async #removeService(ref: string, now: boolean): Promise<void> {
    let id: string;
    try {
      id = ((await this.#docker.getService(ref).inspect()) as { ID: string }).ID;
      await this.#docker.getService(id).remove();
    } catch (err) {
      if (statusOf(err) === 404) return;
      throw err;
    }
    const filters = { label: [`com.docker.swarm.service.id=${id}`] };
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(200)) {
      const left = await this.#docker.listContainers({ all: true, filters });
      if (left.length === 0) return;
      if (now) await Promise.all(left.map((c) => this.#docker.getContainer(c.Id).kill().catch(() => undefined)));
    }
    this.#ctx.log.warn({ service: ref }, 'the removed service still has containers after 20 s');
  }

  async poll(): Promise<PollResult> {
    if (!this.#serviceId) return { running: false };
    let tasks: TaskInfo[];
    try {
      tasks = (await this.#docker.listTasks({ filters: { service: [this.#serviceId] } })) as TaskInfo[];
    } catch (err) {
      // The service was removed behind the hub's back.
      if (statusOf(err) === 404) return { running: false };
      throw err;
    }
    const task = newestTask(tasks);
    if (task?.Status?.State === 'running' && task.DesiredState === 'running') return { running: true };
    const exitCode = task?.Status?.ContainerStatus?.ExitCode;
    return exitCode === undefined ? { running: false } : { running: false, exitCode };
  }

  state(): JsonObject {
    if (!this.#serviceId) return {};
    return { service_id: this.#serviceId, service_name: this.#serviceName, image: this.#image, port: this.#port };
  }

  progress(): AsyncIterable<ProgressEvent> {
    return this.#progress.events();
  }

  #report(e: ProgressEvent): void {
    if (e.message === this.#lastMessage) return;
    this.#lastMessage = e.message;
    this.#progress.push(e);
  }

  /** Removes the server's named volumes (the user or named server is deleted); bind-mounted host paths stay. */
  async deleteForever(): Promise<void> {
    const labels = serverLabels(this.#ctx.config, this.#ctx.user.name, this.#ctx.serverName);
    for (const m of buildMounts(this.#ctx.config, this.#values(), labels, notebookDir(this.#ctx.common, this.#values()))) {
      if (m.Type !== 'volume' || m.ReadOnly || !m.Source) continue;
      await this.#docker.getVolume(m.Source).remove().catch((err: unknown) => {
        if (statusOf(err) !== 404) this.#ctx.log.warn({ volume: m.Source, err: String(err) }, 'could not remove the volume');
      });
    }
  }
}

