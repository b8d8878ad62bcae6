import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Logger } from 'pino';
import type { CullerConfig } from '../config/schema.js';
import type { Database } from '../db/schema.js';
import { insertToken } from '../db/tokens.js';
import type { HubContext } from '../hub-context.js';
import { parseTimestamp } from '../isoformat.js';
import { recordServerActivity, type ServerActivity } from './proxy-activity.js';
import type { ServerRuntime } from './server-runtime.js';

/** Why something was culled (the `reason` of the culler's log lines). */
export type CullReason = 'idle' | 'max_age' | 'inactive-user';

/** What one round did (for tests and the debug log). */
export interface CullReport {
  /** Servers stopped, and whether their (named) server was removed too. */
  servers: Array<{ user: string; server: string; reason: 'idle' | 'max_age'; removed: boolean }>;
  /** Users deleted. */
  users: string[];
  /** Servers asked about their kernels (idleness 'kernels'). */
  checked: number;
  /** `user/server` of those with a busy kernel (kept, and counted active now). */
  busy: string[];
  /** Candidates that could not be handled (logged). */
  errors: number;
}

/** The note of the culler's short-lived tokens for asking servers about their kernels. */
export const CULLER_TOKEN_NOTE = 'culler';
/** Most idle users deleted per round (the rest wait for the next one). */
const USERS_PER_ROUND = 100;
const SERVER_REQUEST_TIMEOUT_MS = 10_000;
/** A safety net only: the token is deleted right after use (and with the server's credentials). */
const TOKEN_TTL_MS = 5 * 60_000;

/** Seconds between rounds: cull_every, or half the timeout, at most 300 s. */
export function cullIntervalSeconds(c: Pick<CullerConfig, 'cull_every' | 'timeout'>): number {
  return c.cull_every > 0 ? c.cull_every : Math.min(c.timeout / 2, 300);
}

/** `{1,2,3}::integer[]` as one bind parameter (works on pg and PGlite, any length). */
const intArray = (ids: Iterable<number>) => sql`${`{${[...ids].join(',')}}`}::integer[]`;

/** Runs `fn` over `items`, at most `limit` at once. `fn` handles its own errors. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

interface Candidate {
  rt: ServerRuntime;
  /** 'ask': kernel-aware mode, the server itself must be asked. */
  reason: 'idle' | 'max_age' | 'ask';
  ageMs: number;
  inactiveMs: number;
}

const label = (rt: ServerRuntime) => `${rt.userName}/${rt.serverName}`;

/**
 * The built-in idle culler, with jupyterhub-idle-culler's semantics but without its HTTP round
 * trips: every `cull_every` seconds (default timeout/2, at most 300 s; the first round runs at start)
 * it looks at the active server runtimes only (never a scan of all users):
 *
 * - pending servers (starting, stopping) are left alone;
 * - a ready server is idle when now - max(last activity, started) >= `timeout`, where last activity
 *   is what the hub knows (activity POSTs from the server, proxy activity collected every
 *   `hub.last_activity_interval`, re-read from the database before culling);
 * - with `idleness: 'kernels'` the server itself is asked instead (`api/kernels`, `api/terminals`,
 *   with a short-lived token of the culler's own): a busy kernel keeps the server (and counts as
 *   activity now); otherwise idle time is now - max(kernels' and terminals' last_activity, started),
 *   so a browser tab left open on idle kernels does not keep a server alive. A server that cannot be
 *   asked is judged by the hub's activity. "Busy" is the server's own `execution_state`: the classic
 *   notebook server (6.x) takes the status of a control-channel kernel_info reply (sent when a
 *   websocket connects) for the kernel's, so it may report a kernel idle mid-computation;
 *   jupyter_server 2 ignores those (`untracked_message_types`);
 * - `max_age` (> 0) culls servers older than that, active or not;
 * - admins' servers are skipped unless `cull_admin_users`;
 * - culled named servers are removed (spawner row deleted) with `remove_named_servers`;
 * - with `cull_users`, users idle (users.last_activity, else created) for `timeout` with no server
 *   at all are deleted, at most 100 per round, never admins unless `cull_admin_users`.
 *
 * At most `concurrency` servers are asked or stopped at once. Each cull logs one line with its
 * reason ('idle', 'max_age', 'inactive-user'); server stops go through the server manager with
 * reason 'cull', which emits the 'stop' event.
 */
export class Culler {
  readonly config: CullerConfig;
  readonly #ctx: HubContext;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  #started = false;
  #stopped = false;

  constructor(ctx: HubContext, config: CullerConfig = ctx.config.culler) {
    this.#ctx = ctx;
    this.config = config;
    this.#log = ctx.log.child({ component: 'culler' });
  }

  get intervalMs(): number {
    return Math.max(100, cullIntervalSeconds(this.config) * 1000);
  }

  /** Runs a round now and then every interval (measured from the end of the previous round). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#log.info({ timeout: this.config.timeout, every: this.intervalMs / 1000, max_age: this.config.max_age, idleness: this.config.idleness, cull_users: this.config.cull_users }, 'idle culler started');
    const loop = (): void => {
      if (this.#stopped) return;
      void this.runOnce()
        .catch((err: unknown) => this.#log.error({ err: String(err) }, 'cull round failed'))
        .finally(() => {
          if (this.#stopped) return;
          this.#timer = setTimeout(loop, this.intervalMs);
          this.#timer.unref();
        });
    };
    loop();
  }

  /** Stops the timer, aborts requests to servers and waits for a round in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#abort.abort(new Error('the culler is stopping'));
    await this.#chain.catch(() => undefined);
  }

  /** One full round, started after any round in progress (rounds never overlap). */
  runOnce(): Promise<CullReport> {
    const round = this.#chain.then(() => this.#round(), () => this.#round());
    this.#chain = round.catch(() => undefined);
    return round;
  }

  async #round(): Promise<CullReport> {
    const report: CullReport = { servers: [], users: [], checked: 0, busy: [], errors: 0 };
    if (this.#stopped) return report;
    const t0 = performance.now();
    const { db } = this.#ctx;
    // Activity reports are written in batches; the culler must see every one it received.
    await this.#ctx.activity.flush();
    const c = this.config;
    const now = Date.now();
    const timeoutMs = c.timeout * 1000;
    const maxAgeMs = c.max_age * 1000;
    const kernelAware = c.idleness === 'kernels';

    let candidates: Candidate[] = [];
    for (const rt of this.#ctx.servers.all) {
      if (!rt.ready || rt.pending || !rt.started) continue;
      const started = rt.started.getTime();
      const ageMs = now - started;
      const inactiveMs = now - Math.max(started, rt.lastActivity?.getTime() ?? 0);
      const old = maxAgeMs > 0 && ageMs >= maxAgeMs;
      if (kernelAware) {
        if (old) candidates.push({ rt, reason: 'max_age', ageMs, inactiveMs });
        // Kernels may have been idle for `timeout` only if the server is at least that old.
        else if (ageMs >= timeoutMs) candidates.push({ rt, reason: 'ask', ageMs, inactiveMs });
      } else if (inactiveMs >= timeoutMs) candidates.push({ rt, reason: 'idle', ageMs, inactiveMs });
      else if (old) candidates.push({ rt, reason: 'max_age', ageMs, inactiveMs });
    }

    if (candidates.length && !c.cull_admin_users) {
      const admins = await db.selectFrom('users').select('id').where(sql<boolean>`id = ANY(${intArray(new Set(candidates.map((x) => x.rt.userId)))})`).where('admin', '=', true).execute();
      const adminIds = new Set(admins.map((r) => r.id));
      candidates = candidates.filter((x) => !adminIds.has(x.rt.userId));
    }

    // The runtime may lag the database (a server re-adopted after a hub restart, a write by another
    // path): re-read the candidates' last_activity before calling anything idle.
    const idle = candidates.filter((x) => x.reason === 'idle');
    if (idle.length) {
      const rows = await db.selectFrom('spawners').select(['id', 'last_activity']).where(sql<boolean>`id = ANY(${intArray(idle.map((x) => x.rt.spawnerId))})`).execute();
      const stored = new Map(rows.map((r) => [r.id, r.last_activity]));
      candidates = candidates.filter((x) => {
        const last = stored.get(x.rt.spawnerId);
        if (x.reason !== 'idle' || !last || (x.rt.lastActivity && last <= x.rt.lastActivity)) return true;
        x.rt.lastActivity = last;
        x.inactiveMs = now - Math.max(x.rt.started!.getTime(), last.getTime());
        if (x.inactiveMs >= timeoutMs) return true;
        if (maxAgeMs > 0 && x.ageMs >= maxAgeMs) {
          x.reason = 'max_age';
          return true;
        }
        return false;
      });
    }

    const busyNow: ServerActivity[] = [];
    await eachLimited(candidates, c.concurrency, async (x) => {
      if (this.#stopped) return;
      try {
        let reason: 'idle' | 'max_age';
        if (x.reason === 'ask') {
          report.checked++;
          const view = await this.#askServer(x.rt);
          if (view?.busy) {
            const when = new Date();
            x.rt.lastActivity = when;
            busyNow.push({ spawnerId: x.rt.spawnerId, userId: x.rt.userId, when });
            report.busy.push(label(x.rt));
            return;
          }
          // A server that could not be asked is judged by the hub's own activity.
          if (view) x.inactiveMs = Date.now() - Math.max(x.rt.started!.getTime(), Math.min(Date.now(), view.lastActivity?.getTime() ?? 0));
          if (x.inactiveMs < timeoutMs) return;
          reason = 'idle';
        } else reason = x.reason;
        await this.#cullServer(x, reason, report);
      } catch (err) {
        report.errors++;
        this.#log.warn({ err: String(err), user: x.rt.userName, server: x.rt.serverName }, 'could not cull server');
      }
    });
    if (busyNow.length) await recordServerActivity(db, busyNow).catch((err: unknown) => this.#log.warn({ err: String(err) }, 'could not record busy kernels as activity'));

    if (c.cull_users && !this.#stopped) await this.#cullUsers(report);

    this.#log.debug({ ms: Math.round(performance.now() - t0), candidates: candidates.length, culled: report.servers.length, users: report.users.length, checked: report.checked, busy: report.busy.length }, 'cull round done');
    return report;
  }

  async #cullServer(x: Candidate, reason: 'idle' | 'max_age', report: CullReport): Promise<void> {
    const { servers, db, identities } = this.#ctx;
    const { rt } = x;
    // It may have been stopped or replaced while we looked.
    if (this.#stopped || servers.get(rt.userId, rt.serverName) !== rt || !rt.ready) return;
    const remove = rt.serverName !== '' && this.config.remove_named_servers;
    this.#log.info(
      { user: rt.userName, server: rt.serverName, reason, inactive_s: Math.round(x.inactiveMs / 1000), age_s: Math.round(x.ageMs / 1000), remove },
      `culling server ${label(rt)} (${reason === 'idle' ? `inactive for ${Math.round(x.inactiveMs / 1000)} s` : `age ${Math.round(x.ageMs / 1000)} s`})`,
    );
    await servers.stop(rt, { reason: 'cull', cullReason: reason });
    let removed = false;
    // As DELETE .../servers/:name with {"remove": true}, unless it was started again meanwhile.
    if (remove && !servers.get(rt.userId, rt.serverName)) {
      const res = await db.deleteFrom('spawners').where('id', '=', rt.spawnerId).where('started', 'is', null).executeTakeFirst();
      removed = Number(res.numDeletedRows) > 0;
      if (removed) identities.invalidate(); // its shares went with it
    }
    report.servers.push({ user: rt.userName, server: rt.serverName, reason, removed });
  }

  /** Deletes users idle for `timeout` who have no server at all (not even a failed or pending one). */
  async #cullUsers(report: CullReport): Promise<void> {
    const { db, servers, identities } = this.#ctx;
    const c = this.config;
    const cutoff = new Date(Date.now() - c.timeout * 1000);
    const idleUser = (eb: ExpressionBuilder<Database, 'users'>): Expression<SqlBool> => {
      const idle = eb.or([eb('last_activity', '<', cutoff), eb.and([eb('last_activity', 'is', null), eb('created', '<', cutoff)])]);
      return c.cull_admin_users ? idle : eb.and([idle, eb('admin', '=', false)]);
    };
    const withServers = new Set<number>();
    for (const rt of servers.all) withServers.add(rt.userId);
    let q = db.selectFrom('users').select('id').where(idleUser);
    if (withServers.size) q = q.where(sql<boolean>`id <> ALL(${intArray(withServers)})`);
    const rows = await q.orderBy(sql`coalesce(last_activity, created)`).limit(USERS_PER_ROUND).execute();
    // Someone may have started a server meanwhile; the DELETE re-checks idleness itself.
    const ids = rows.map((r) => r.id).filter((id) => servers.forUser(id).length === 0);
    if (ids.length === 0) return;
    const deleted = await db
      .deleteFrom('users')
      .where(sql<boolean>`id = ANY(${intArray(ids)})`)
      .where(idleUser)
      .returning(['name', 'last_activity', 'created'])
      .execute();
    if (deleted.length) identities.invalidate();
    const now = Date.now();
    for (const u of deleted) {
      const inactive = Math.round((now - (u.last_activity ?? u.created).getTime()) / 1000);
      this.#log.info({ user: u.name, reason: 'inactive-user' satisfies CullReason, inactive_s: inactive }, `culling user ${u.name} (inactive for ${inactive} s)`);
      report.users.push(u.name);
    }
  }

  /**
   * Asks a server about its kernels and terminals, at its own address (not through the proxy), with
   * a token minted for this one question: owned by the server's user, scoped to access this server
   * only, its secret only in memory, deleted right after. `no_track_activity` keeps the question
   * from counting as activity in the server. Returns null when the server cannot be asked.
   */
  async #askServer(rt: ServerRuntime): Promise<{ busy: boolean; lastActivity: Date | null } | null> {
    if (!rt.url) return null;
    const { db } = this.#ctx;
    let minted: { id: number; token: string } | null = null;
    try {
      minted = await insertToken(db, {
        userId: rt.userId,
        note: CULLER_TOKEN_NOTE,
        scopes: [`access:servers!server=${rt.userName}/${rt.serverName}`],
        // Revoked with the server's credentials should it outlive this call (a crash).
        spawnerId: rt.spawnerId,
        expiresAt: new Date(Date.now() + TOKEN_TTL_MS),
      });
      const token = minted.token;
      const base = `${rt.url}${rt.prefix}api/`;
      const list = async (what: 'kernels' | 'terminals'): Promise<Array<Record<string, unknown>>> => {
        const res = await fetch(`${base}${what}?no_track_activity=1`, {
          headers: { authorization: `token ${token}`, accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(SERVER_REQUEST_TIMEOUT_MS)]),
        });
        // Terminals may be disabled (terminado missing): then there are none.
        if (what === 'terminals' && res.status === 404) return [];
        if (!res.ok) throw new Error(`GET ${what}: HTTP ${res.status}`);
        const body = (await res.json()) as unknown;
        if (!Array.isArray(body)) throw new Error(`GET ${what}: not a list`);
        return body as Array<Record<string, unknown>>;
      };
      const [kernels, terminals] = await Promise.all([list('kernels'), list('terminals')]);
      let last: Date | null = null;
      for (const item of [...kernels, ...terminals]) {
        const d = parseTimestamp(item.last_activity);
        if (d && (!last || d > last)) last = d;
      }
      return { busy: kernels.some((k) => k.execution_state === 'busy'), lastActivity: last };
    } catch (err) {
      if (!this.#stopped) this.#log.warn({ err: String(err), user: rt.userName, server: rt.serverName }, 'could not ask the server about its kernels; judging it by its hub activity');
      return null;
    } finally {
      if (minted) await db.deleteFrom('api_tokens').where('id', '=', minted.id).execute().catch(() => undefined);
    }
  }
}
