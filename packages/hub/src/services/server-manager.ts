import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { HubError, type JsonObject, type SpawnerCommonConfig, type SpawnerPlugin, type SpawnerShared, type Spawner } from '@tshub/plugin-api';
import type { TshubConfig } from '../config/schema.js';
import type { Database } from '../db/schema.js';
import { ensureSpawnerRow, listStartedSpawners, markSpawnerStopped } from '../db/spawners.js';
import type { IdentityResolver } from '../auth/identity.js';
import type { AuthServices } from '../auth/auth-services.js';
import type { HubUrls } from '../hub-context.js';
import { serverAddress } from '../subdomain-host.js';
import type { RouteManager, RouteSource } from './route-manager.js';
import { ServerRuntime } from './server-runtime.js';
import { revokeServerCredentials } from './server-credentials.js';
import { runSpawn } from './run-spawn.js';
import { parseByteSize } from './spawn-env.js';
import { waitForHttp } from './wait-for-http.js';
import type { HubEvents } from './hub-events.js';

export interface SpawnUserInfo {
  id: number;
  name: string;
  admin: boolean;
  groups: readonly string[];
}

export interface ServerManagerDeps {
  config: TshubConfig;
  db: Kysely<Database>;
  log: Logger;
  urls: HubUrls;
  plugin: SpawnerPlugin<any>;
  /** What plugin.openShared returned (undefined for kinds without one). */
  shared?: SpawnerShared;
  routes: RouteManager;
  identities: IdentityResolver;
  /** auth_state and refresh_user before a spawn (absent in tests that build a manager alone). */
  loginServices?: AuthServices;
  events: HubEvents;
}

/** The Spawner.* options every kind shares, from the `spawner:` section. */
export function commonSpawnerConfig(config: TshubConfig): SpawnerCommonConfig {
  const s = config.spawner;
  return {
    cmd: s.cmd, args: s.args, default_url: s.default_url, notebook_dir: s.notebook_dir, environment: s.environment,
    env_keep: s.env_keep, ip: s.ip, port: s.port, start_timeout: s.start_timeout, http_timeout: s.http_timeout,
    poll_interval: s.poll_interval, mem_limit: parseByteSize(s.mem_limit), mem_guarantee: parseByteSize(s.mem_guarantee),
    cpu_limit: s.cpu_limit, cpu_guarantee: s.cpu_guarantee,
  };
}

const key = (userId: number, server: string) => `${userId}/${server}`;

/**
 * Owns every active user server: starts them (bounded by the spawn limits), stops them, polls them,
 * re-adopts them after a hub restart, and tells the route manager what to route.
 */
export class ServerManager implements RouteSource {
  readonly #runtimes = new Map<string, ServerRuntime>();
  readonly deps: ServerManagerDeps;
  readonly common: SpawnerCommonConfig;

  constructor(deps: ServerManagerDeps) {
    this.deps = deps;
    this.common = commonSpawnerConfig(deps.config);
  }

  get(userId: number, server: string): ServerRuntime | undefined {
    return this.#runtimes.get(key(userId, server));
  }

  forUser(userId: number): ServerRuntime[] {
    return [...this.#runtimes.values()].filter((r) => r.userId === userId);
  }

  get all(): IterableIterator<ServerRuntime> {
    return this.#runtimes.values();
  }

  routespecOf(rt: ServerRuntime): string {
    return rt.routespec;
  }

  *readyRoutes() {
    for (const rt of this.#runtimes.values()) {
      if (rt.ready && rt.url) yield { routespec: rt.routespec, target: rt.url, data: { user: rt.userName, server_name: rt.serverName } };
    }
  }

  *pendingRoutespecs() {
    for (const rt of this.#runtimes.values()) if (rt.pending) yield rt.routespec;
  }

  /** A runtime with its path, public URL and routespec (on the user's own host with subdomain_host). */
  #runtime(userId: number, userName: string, serverName: string, spawnerId: number): ServerRuntime {
    const a = serverAddress(this.deps.urls.subdomain ?? null, this.deps.urls.baseUrl, userName, serverName);
    return new ServerRuntime(userId, userName, serverName, spawnerId, a.prefix, a.url, a.routespec);
  }

  /**
   * Starts a server in the background and returns its runtime at once; `runtime.spawnDone` settles
   * when the spawn has finished either way. A spawn already pending is returned as it is.
   */
  async spawn(user: SpawnUserInfo, serverName: string, userOptions: JsonObject): Promise<ServerRuntime> {
    let existing = this.get(user.id, serverName);
    if (existing?.phase === 'spawning' && existing.failing) {
      await existing.spawnDone;
      existing = this.get(user.id, serverName);
    }
    if (existing?.phase === 'spawning') {
      this.deps.events.emit('spawn-already-pending', { user: user.name, server: serverName });
      return existing;
    }
    if (existing?.phase === 'ready') throw new HubError(400, `${user.name}'s server${serverName ? ` ${serverName}` : ''} is already running`);
    if (existing?.phase === 'stopping') throw new HubError(400, `${user.name}'s server${serverName ? ` ${serverName}` : ''} is pending stop. Try again later.`);
    const hub = this.deps.config.hub;
    let pending = 0;
    let active = 0;
    for (const rt of this.#runtimes.values()) {
      if (rt.phase === 'spawning') pending++;
      if (rt.active) active++;
    }
    if (hub.concurrent_spawn_limit > 0 && pending >= hub.concurrent_spawn_limit) {
      this.deps.events.emit('spawn-throttled', { user: user.name, server: serverName, reason: 'throttled' });
      const [lo, hi] = hub.spawn_throttle_retry_range;
      const retry = Math.floor(lo + Math.random() * (hi - lo + 1));
      throw new HubError(429, `Too many users trying to log in right now. Try again in ${retry} seconds.`, { headers: { 'Retry-After': String(retry) } });
    }
    if (hub.active_server_limit > 0 && active >= hub.active_server_limit) {
      this.deps.events.emit('spawn-throttled', { user: user.name, server: serverName, reason: 'too-many-users' });
      throw new HubError(429, 'Active user limit exceeded. Try again in a few minutes.', { headers: { 'Retry-After': '60' } });
    }
    const checkOptions = this.deps.shared?.checkUserOptions;
    if (checkOptions) userOptions = await checkOptions.call(this.deps.shared, userOptions, { name: user.name, admin: user.admin, groups: [...user.groups], authState: null });
    const row = await ensureSpawnerRow(this.deps.db, user.id, serverName);
    const rt = this.#runtime(user.id, user.name, serverName, row.id);
    rt.userOptions = userOptions;
    this.#runtimes.set(key(user.id, serverName), rt);
    rt.emit({ progress: 0, message: 'Server requested' });
    this.deps.events.emit('spawn-requested', { user: user.name, server: serverName });
    rt.spawnDone = runSpawn(this, rt, user, userOptions).then((ok) => {
      if (ok) this.#schedulePoll(rt);
    });
    return rt;
  }

  /** Stops a server (cancelling a pending spawn). Resolves when it is gone. */
  async stop(rt: ServerRuntime, opts: { now?: boolean; reason?: 'request' | 'cull' | 'shutdown'; cullReason?: 'idle' | 'max_age' } = {}): Promise<void> {
    const k = key(rt.userId, rt.serverName);
    if (rt.phase === 'spawning') {
      rt.abort.abort(new Error('cancelled'));
      await rt.spawnDone;
      if (this.#runtimes.get(k) === rt) this.#runtimes.delete(k);
      return;
    }
    if (rt.phase === 'failed') {
      if (this.#runtimes.get(k) === rt) this.#runtimes.delete(k);
      return;
    }
    if (rt.stopDone) return rt.stopDone;
    rt.phase = 'stopping';
    const t0 = performance.now();
    rt.stopDone = (async () => {
      if (rt.pollTimer) clearTimeout(rt.pollTimer);
      await this.deps.routes.delete(rt.routespec).catch((err) => this.deps.log.warn({ err: String(err), route: rt.routespec }, 'could not delete proxy route'));
      try {
        await rt.spawner?.stop({ now: opts.now ?? false });
      } catch (err) {
        this.deps.log.error({ err: String(err), user: rt.userName, server: rt.serverName }, 'spawner stop failed');
      }
      await this.#forget(rt);
      this.deps.log.info({ user: rt.userName, server: rt.serverName, reason: opts.reason ?? 'request' }, 'server stopped');
      this.deps.events.emit('stop', { user: rt.userName, server: rt.serverName, seconds: (performance.now() - t0) / 1000, reason: opts.reason ?? 'request', ...(opts.cullReason ? { cull_reason: opts.cullReason } : {}) });
    })();
    return rt.stopDone;
  }

  /** Stops every server (hub shutdown with cleanup_servers). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#runtimes.values()].map((rt) => this.stop(rt, { now: true, reason: 'shutdown' })));
  }

  /** Stops polling without touching servers (hub shutdown that keeps them running). */
  detachAll(): void {
    for (const rt of this.#runtimes.values()) if (rt.pollTimer) clearTimeout(rt.pollTimer);
  }

  /**
   * Hub start-up: rebuild a spawner for every server the database says is running. Those still alive
   * and answering are adopted as ready; the rest are marked stopped and their credentials revoked.
   */
  async adoptAll(): Promise<{ adopted: number; gone: number }> {
    const rows = await listStartedSpawners(this.deps.db);
    let adopted = 0;
    let gone = 0;
    await Promise.all(
      rows.map(async (row) => {
        const rt = this.#runtime(row.user_id, row.user_name, row.name, row.id);
        rt.url = row.url;
        rt.started = row.started;
        rt.lastActivity = row.last_activity;
        rt.userOptions = row.user_options;
        const spawner = this.createSpawner(rt, { name: row.user_name, admin: row.user_admin, groups: [] }, row.state, row.user_options, {});
        rt.spawner = spawner;
        const alive = row.url !== null && (await spawner.poll().catch(() => ({ running: false }))).running;
        const answering = alive && (await waitForHttp(`${row.url}${rt.prefix}api`, { timeoutMs: 3000 }).then(() => true, () => false));
        if (answering) {
          rt.phase = 'ready';
          this.#runtimes.set(key(rt.userId, rt.serverName), rt);
          this.#schedulePoll(rt);
          adopted++;
        } else {
          if (alive) await spawner.stop({ now: true }).catch(() => undefined);
          await this.#forget(rt);
          this.deps.log.info({ user: rt.userName, server: rt.serverName }, 'server stopped while the hub was down');
          gone++;
        }
      }),
    );
    return { adopted, gone };
  }

  createSpawner(
    rt: ServerRuntime, user: { name: string; admin: boolean; groups: readonly string[]; authState?: JsonObject | null }, state: JsonObject, userOptions: JsonObject, env: Record<string, string>,
  ): Spawner {
    return this.deps.plugin.create({
      // auth_state arrives decrypted from runSpawn (enable_auth_state); re-adopted servers get none.
      user: { name: user.name, admin: user.admin, groups: [...user.groups], authState: user.authState ?? null },
      serverName: rt.serverName,
      state,
      userOptions,
      env,
      servicePrefix: rt.prefix,
      common: this.common,
      config: this.deps.config.spawner,
      log: this.deps.log.child({ user: user.name, server: rt.serverName }),
      shared: this.deps.shared,
    });
  }

  /**
   * Removes what the spawner keeps for a stopped server (volumes, PVCs), as JupyterHub's
   * delete_forever does when a named server or a user is deleted. Failures are logged, not thrown:
   * the deletion the person asked for still happens.
   */
  async deleteForever(user: { id: number; name: string; admin: boolean }, serverName: string, state: JsonObject = {}): Promise<void> {
    const probe = this.#runtime(user.id, user.name, serverName, 0);
    try {
      const spawner = this.createSpawner(probe, { name: user.name, admin: user.admin, groups: [] }, state, {}, {});
      await spawner.deleteForever?.();
    } catch (err) {
      this.deps.log.warn({ err, user: user.name, server: serverName }, 'could not remove the stored data of a deleted server');
    }
  }

  /** Clears a server's row and credentials and drops its runtime (not a failed one's record). */
  async #forget(rt: ServerRuntime, opts: { keepRuntime?: boolean } = {}): Promise<void> {
    const k = key(rt.userId, rt.serverName);
    await revokeServerCredentials(this.deps.db, rt.spawnerId);
    await markSpawnerStopped(this.deps.db, rt.spawnerId);
    this.deps.identities.invalidate();
    if (!opts.keepRuntime && this.#runtimes.get(k) === rt && rt.phase !== 'failed') this.#runtimes.delete(k);
  }

  /** After a failed spawn: clean up but keep the runtime so pages can show the failure. */
  async cleanupFailed(rt: ServerRuntime): Promise<void> {
    await this.deps.routes.delete(rt.routespec).catch(() => undefined);
    await this.#forget(rt, { keepRuntime: true });
  }

  #schedulePoll(rt: ServerRuntime): void {
    const base = this.common.poll_interval * 1000;
    const ms = base * (0.9 + Math.random() * 0.2);
    rt.pollTimer = setTimeout(() => void this.#pollOnce(rt), ms);
    rt.pollTimer.unref();
  }

  async #pollOnce(rt: ServerRuntime): Promise<void> {
    if (rt.phase !== 'ready' || !rt.spawner) return;
    const t0 = performance.now();
    const status = await rt.spawner.poll().catch((err) => {
      this.deps.log.warn({ err: String(err), user: rt.userName }, 'poll failed');
      return { running: true as const };
    });
    if (rt.phase !== 'ready') return;
    this.deps.events.emit('server-poll', { user: rt.userName, server: rt.serverName, seconds: (performance.now() - t0) / 1000, running: status.running });
    if (status.running) return this.#schedulePoll(rt);
    this.deps.log.warn({ user: rt.userName, server: rt.serverName, exitCode: 'exitCode' in status ? status.exitCode : undefined }, 'server is no longer running; removing its route');
    rt.phase = 'stopping';
    await this.deps.routes.delete(rt.routespec).catch(() => undefined);
    await this.#forget(rt);
    this.deps.events.emit('stop', { user: rt.userName, server: rt.serverName, seconds: 0, reason: 'died' });
  }
}
