import type { Kysely } from 'kysely';
import { writeActivity } from './activity-buffer.js';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import type { ProxyRoute } from '../proxy/chp-client.js';
import type { ServerManager } from './server-manager.js';
import type { ServerRuntime } from './server-runtime.js';

/** One server's activity to record: its spawner row, its owner, and when. */
export interface ServerActivity {
  spawnerId: number;
  userId: number;
  when: Date;
}

/** Rows per statement: two bind parameters each, far below Postgres' 65535. */
/**
 * Moves `spawners.last_activity` and `users.last_activity` forward (never back) for many servers at
 * once: one UPDATE ... FROM (VALUES ...) per table (per 2000 servers), instead of two statements
 * per server. A user's new value is the newest of their servers' values.
 */
export async function recordServerActivity(db: Kysely<Database>, entries: readonly ServerActivity[]): Promise<void> {
  if (entries.length === 0) return;
  const bySpawner = new Map<number, Date>();
  const byUser = new Map<number, Date>();
  for (const e of entries) {
    const s = bySpawner.get(e.spawnerId);
    if (!s || s < e.when) bySpawner.set(e.spawnerId, e.when);
    const u = byUser.get(e.userId);
    if (!u || u < e.when) byUser.set(e.userId, e.when);
  }
  await writeActivity(db, bySpawner, byUser);
}

/**
 * JupyterHub's `update_last_activity`: after each periodic route check (every
 * `hub.last_activity_interval` seconds) the proxy's per-route `last_activity` of user routes
 * (data `{user, server_name}`) moves the server's runtime, its spawner row and its user forward.
 *
 * Staleness: traffic through the proxy becomes visible to the hub (API, pages, the culler) only at
 * the next collection, so up to `last_activity_interval` late; with `last_activity_interval: 0` it is
 * not collected at all and only what servers report themselves (activity POSTs) counts. The culler's
 * timeout should therefore exceed last_activity_interval (plus the single-user servers' own
 * activity-report interval), as jupyterhub-idle-culler's README says.
 *
 * Only routes whose timestamp is newer than what the runtime already holds are written, so a round
 * in which nobody used the proxy costs no database write.
 */
export function proxyActivityCollector(deps: { db: Kysely<Database>; servers: ServerManager; log: Logger }): (routes: Map<string, ProxyRoute>) => Promise<void> {
  return async (routes) => {
    const t0 = performance.now();
    const runtimes = new Map<string, ServerRuntime>();
    for (const rt of deps.servers.all) if (rt.ready) runtimes.set(`${rt.userName}\u0000${rt.serverName}`, rt);
    const entries: ServerActivity[] = [];
    for (const route of routes.values()) {
      const { user, server_name: serverName } = route.data;
      if (typeof user !== 'string' || typeof serverName !== 'string' || !route.lastActivity) continue;
      const rt = runtimes.get(`${user}\u0000${serverName}`);
      if (!rt || (rt.lastActivity && rt.lastActivity >= route.lastActivity)) continue;
      // Timestamps from the proxy's clock; a route is never "active" in the future.
      const when = route.lastActivity.getTime() > Date.now() ? new Date() : route.lastActivity;
      rt.lastActivity = when;
      entries.push({ spawnerId: rt.spawnerId, userId: rt.userId, when });
    }
    if (entries.length === 0) return;
    try {
      await recordServerActivity(deps.db, entries);
      deps.log.debug({ servers: entries.length, ms: Math.round(performance.now() - t0) }, 'proxy activity recorded');
    } catch (err) {
      deps.log.warn({ err: String(err), servers: entries.length }, 'could not record proxy activity');
    }
  };
}
