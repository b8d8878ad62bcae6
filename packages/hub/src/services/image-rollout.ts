import type { JsonObject } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';
import { pluginStore } from '../db/plugin-store.js';
import { findUserById, userGroupNames } from '../db/users.js';
import { HubError } from '../errors.js';
import type { ServerRuntime } from './server-runtime.js';

/** One server a rollout restarts. */
export interface RolloutServer {
  user: string;
  server: string;
  /** The image it ran before. */
  from: string | null;
  status: 'waiting' | 'restarting' | 'done' | 'failed';
  message?: string;
}

export interface RolloutStatus {
  state: 'idle' | 'running' | 'done' | 'failed';
  image?: string;
  batch_size?: number;
  started?: string;
  finished?: string;
  total: number;
  done: number;
  failed: number;
  servers: RolloutServer[];
}

/** Where the image override lives: the plugin store, namespaced away from every plugin kind. */
const STORE = 'hub.images';
const KEY = 'image';

/**
 * The rolling image update: new servers start from the new image at once (SpawnerShared.setImage, kept
 * in the database so a restarted hub re-applies it), and running servers on another image are
 * restarted in batches (stop, start with the same user_options, wait for ready) so a class is never
 * all down at once. The spawner keeps users' volumes across the restart.
 */
export class ImageRollout {
  readonly #hub: HubContext;
  #status: RolloutStatus = { state: 'idle', total: 0, done: 0, failed: 0, servers: [] };
  #run: Promise<void> | null = null;

  constructor(hub: HubContext) {
    this.#hub = hub;
  }

  get supported(): boolean {
    return typeof this.#hub.servers.deps.shared?.setImage === 'function';
  }

  status(): RolloutStatus {
    return { ...this.#status, servers: this.#status.servers.map((s) => ({ ...s })) };
  }

  /** Re-applies a persisted override (hub start-up, before any spawn). */
  async restore(): Promise<void> {
    const shared = this.#hub.servers.deps.shared;
    if (!shared?.setImage) return;
    const image = await pluginStore(this.#hub.db, STORE).get(KEY);
    if (typeof image === 'string' && image) shared.setImage(image);
  }

  /** Switches to `image` and starts restarting servers in the background; 409 while one is running. */
  async start(image: string, batchSize: number): Promise<RolloutStatus> {
    const shared = this.#hub.servers.deps.shared;
    if (!shared?.setImage) throw new HubError(404, `The spawner kind '${this.#hub.spawnerPlugin.kind}' cannot change its image at run time.`);
    if (this.#status.state === 'running') throw new HubError(409, `A rollout to ${this.#status.image} is still running (${this.#status.done + this.#status.failed}/${this.#status.total}); wait for it to finish.`);
    await pluginStore(this.#hub.db, STORE).set(KEY, image);
    shared.setImage(image);
    const imageOf = (rt: ServerRuntime) => (rt.spawner && shared.imageOf ? shared.imageOf(rt.spawner.state()) : null);
    const targets = [...this.#hub.servers.all].filter((rt) => rt.ready && imageOf(rt) !== image);
    const servers = targets.map((rt): RolloutServer => ({ user: rt.userName, server: rt.serverName, from: imageOf(rt), status: 'waiting' }));
    this.#status = { state: 'running', image, batch_size: batchSize, started: new Date().toISOString(), total: targets.length, done: 0, failed: 0, servers };
    this.#hub.log.info({ image, servers: targets.length, batch_size: batchSize }, 'rolling image update started');
    const status = this.#status;
    this.#run = (async () => {
      for (let i = 0; i < targets.length; i += batchSize) {
        await Promise.all(targets.slice(i, i + batchSize).map((rt, j) => this.#restart(rt, servers[i + j]!, status)));
      }
      status.state = status.failed ? 'failed' : 'done';
      status.finished = new Date().toISOString();
      this.#hub.log.info({ image, done: status.done, failed: status.failed }, 'rolling image update finished');
    })();
    return this.status();
  }

  /** Settles when the current rollout (if any) has finished. */
  async settled(): Promise<void> {
    await this.#run;
  }

  async #restart(rt: ServerRuntime, entry: RolloutServer, status: RolloutStatus): Promise<void> {
    entry.status = 'restarting';
    const { servers, db, log } = this.#hub;
    try {
      const userOptions = rt.userOptions as JsonObject;
      await servers.stop(rt, { reason: 'request' });
      const user = await findUserById(db, rt.userId);
      if (!user) throw new Error('the user was deleted');
      const next = await servers.spawn({ id: user.id, name: user.name, admin: user.admin, groups: await userGroupNames(db, user.id) }, rt.serverName, userOptions);
      await next.spawnDone;
      if (next.phase !== 'ready') throw new Error(next.failure?.message ?? 'the server did not become ready');
      entry.status = 'done';
      status.done++;
    } catch (err) {
      entry.status = 'failed';
      entry.message = err instanceof Error ? err.message : String(err);
      status.failed++;
      log.warn({ user: entry.user, server: entry.server, err: entry.message }, 'rolling image update: restart failed');
    }
  }
}

const byHub = new WeakMap<HubContext, ImageRollout>();

/** The rollout of a hub (one per hub). */
export function imageRollout(hub: HubContext): ImageRollout {
  let r = byHub.get(hub);
  if (!r) byHub.set(hub, (r = new ImageRollout(hub)));
  return r;
}
