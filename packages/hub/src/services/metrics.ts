import { Gauge, Histogram, Registry } from 'prom-client';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import type { HubEvents } from './hub-events.js';
import type { ServerManager } from './server-manager.js';

/**
 * JupyterHub's Prometheus metrics (jupyterhub/metrics.py), same names, types and labels, each hub
 * with a registry of its own (tests run several hubs in one process; prom-client's global default
 * registry is never touched). Everything is fed by subscribing to HubEvents; the gauges are computed
 * when scraped: server counts from the in-memory runtimes, user counts from one SQL query cached for
 * USER_COUNT_TTL_MS, so a burst of scrapes costs at most one query.
 *
 * tshub extras (not in JupyterHub): `<prefix>_spawn_pending` and `<prefix>_spawn_queue_length`.
 */

/** JupyterHub's SERVER_SPAWN_DURATION_SECONDS default buckets (+Inf is always added). */
export const DEFAULT_SPAWN_BUCKETS = [0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 180, 300, 600];
/** JupyterHub's SERVER_STOP_DURATION_SECONDS default buckets (prometheus_client's defaults). */
export const DEFAULT_STOP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Total and active user counts are re-read from the database at most this often. */
export const USER_COUNT_TTL_MS = 30_000;

export const SPAWN_STATUSES = ['success', 'failure', 'already-pending', 'throttled', 'too-many-users'] as const;
export type SpawnStatus = (typeof SPAWN_STATUSES)[number];
export const ACTIVE_USER_PERIODS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
type Period = keyof typeof ACTIVE_USER_PERIODS;

interface UserCounts {
  total: number;
  active: Record<Period, number>;
}

/** `JUPYTERHUB_METRICS_PREFIX` (default `jupyterhub`; empty means no prefix), checked. */
export function metricsPrefix(env: NodeJS.ProcessEnv): string {
  const prefix = env.JUPYTERHUB_METRICS_PREFIX ?? 'jupyterhub';
  if (prefix !== '' && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new Error(`JUPYTERHUB_METRICS_PREFIX: '${prefix}' is not a valid Prometheus metric name prefix`);
  }
  return prefix;
}

/** Buckets from a comma-separated env variable (`1,2,4,inf`), or `fallback` when unset. */
export function envBuckets(env: NodeJS.ProcessEnv, name: string, fallback: readonly number[]): number[] {
  const raw = env[name]?.trim();
  if (!raw) return [...fallback];
  const values = raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const v = /^\+?inf(inity)?$/i.test(s) ? Infinity : Number(s);
    if (Number.isNaN(v)) throw new Error(`${name}: '${s}' is not a number (expected e.g. "1,2,4,6,12,30,60,120,inf")`);
    return v;
  });
  // prom-client always adds +Inf itself.
  const finite = [...new Set(values.filter((v) => Number.isFinite(v)))].sort((a, b) => a - b);
  if (finite.length === 0) throw new Error(`${name}: no finite bucket bounds in '${raw}'`);
  return finite;
}

export interface HubMetricsDeps {
  events: HubEvents;
  servers: ServerManager;
  db: Kysely<Database>;
  log: Logger;
  /** Where JUPYTERHUB_METRICS_PREFIX and the bucket overrides are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Clock (ms), for tests. */
  now?: () => number;
}

export class HubMetrics {
  readonly registry = new Registry();
  readonly prefix: string;

  readonly requestDuration: Histogram<'method' | 'handler' | 'code'>;
  readonly spawnDuration: Histogram<'status'>;
  readonly stopDuration: Histogram<'status'>;
  readonly checkRoutesDuration: Histogram;
  readonly proxyPollDuration: Histogram;
  readonly proxyAddDuration: Histogram<'status'>;
  readonly proxyDeleteDuration: Histogram<'status'>;
  readonly serverPollDuration: Histogram<'status'>;
  readonly hubStartupDuration: Histogram;

  readonly #deps: HubMetricsDeps;
  readonly #now: () => number;
  readonly #unsubscribe: Array<() => void> = [];
  #counts: UserCounts | null = null;
  #countsAt = -Infinity;
  #countsInflight: Promise<UserCounts | null> | null = null;

  constructor(deps: HubMetricsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const env = deps.env ?? process.env;
    this.prefix = metricsPrefix(env);
    const name = (n: string) => (this.prefix ? `${this.prefix}_${n}` : n);
    const registers = [this.registry];
    const self = this;

    this.requestDuration = new Histogram({
      name: name('request_duration_seconds'), help: 'Request duration for all HTTP requests',
      labelNames: ['method', 'handler', 'code'], registers,
    });
    this.spawnDuration = new Histogram({
      name: name('server_spawn_duration_seconds'), help: 'Time taken for server spawning operation',
      labelNames: ['status'], buckets: envBuckets(env, 'JUPYTERHUB_SERVER_SPAWN_DURATION_SECONDS_BUCKETS', DEFAULT_SPAWN_BUCKETS), registers,
    });
    this.stopDuration = new Histogram({
      name: name('server_stop_seconds'), help: 'Time taken for server stopping operation',
      labelNames: ['status'], buckets: envBuckets(env, 'JUPYTERHUB_SERVER_STOP_DURATION_SECONDS_BUCKETS', DEFAULT_STOP_BUCKETS), registers,
    });
    new Gauge({
      name: name('running_servers'), help: 'The number of user servers currently running', registers,
      collect() {
        // A stopping server is still running until its stop completes (as JupyterHub counts it).
        let n = 0;
        for (const rt of deps.servers.all) if (rt.phase === 'ready' || rt.phase === 'stopping') n++;
        this.set(n);
      },
    });
    new Gauge({
      name: name('total_users'), help: 'Total number of users', registers,
      async collect() {
        const c = await self.userCounts();
        if (c) this.set(c.total);
      },
    });
    new Gauge({
      name: name('active_users'), help: 'Number of users who were active in the given time period', labelNames: ['period'], registers,
      async collect() {
        const c = await self.userCounts();
        if (!c) return;
        for (const p of Object.keys(ACTIVE_USER_PERIODS) as Period[]) this.set({ period: p }, c.active[p]);
      },
    });
    this.checkRoutesDuration = new Histogram({ name: name('check_routes_duration_seconds'), help: 'Time taken to validate all routes in proxy', registers });
    this.hubStartupDuration = new Histogram({ name: name('hub_startup_duration_seconds'), help: 'Time taken for Hub to start', registers });
    this.proxyPollDuration = new Histogram({ name: name('proxy_poll_duration_seconds'), help: 'Duration for polling all routes from proxy', registers });
    this.proxyAddDuration = new Histogram({ name: name('proxy_add_duration_seconds'), help: 'Duration for adding user routes to proxy', labelNames: ['status'], registers });
    this.proxyDeleteDuration = new Histogram({ name: name('proxy_delete_duration_seconds'), help: 'Duration for deleting user routes from proxy', labelNames: ['status'], registers });
    this.serverPollDuration = new Histogram({ name: name('server_poll_duration_seconds'), help: 'Time taken to poll if server is running', labelNames: ['status'], registers });
    // tshub extras.
    new Gauge({
      name: name('spawn_pending'), help: 'tshub extra: the number of server spawns in progress', registers,
      collect() {
        let n = 0;
        for (const rt of deps.servers.all) if (rt.phase === 'spawning') n++;
        this.set(n);
      },
    });
    new Gauge({
      name: name('spawn_queue_length'), help: 'tshub extra: spawns waiting for a free slot (always 0: spawns over the limit get 429, none are queued)', registers,
    }).set(0);

    // Every spawn status is exported from the start, so rate() and dashboards see zeros, not gaps.
    for (const status of SPAWN_STATUSES) this.spawnDuration.zero({ status });

    const on = deps.events.on.bind(deps.events);
    this.#unsubscribe.push(
      on('request', (e) => this.requestDuration.observe({ method: e.method, handler: e.handler, code: String(e.code) }, e.seconds)),
      on('spawn-ready', (e) => this.spawnDuration.observe({ status: 'success' }, e.seconds)),
      on('spawn-failed', (e) => this.spawnDuration.observe({ status: 'failure' }, e.seconds)),
      // Refused at once, as JupyterHub records it (the time until the refusal, ~0).
      on('spawn-throttled', (e) => this.spawnDuration.observe({ status: e.reason }, 0)),
      on('spawn-already-pending', () => this.spawnDuration.observe({ status: 'already-pending' }, 0)),
      on('check-routes', (e) => this.checkRoutesDuration.observe(e.seconds)),
      // A server found dead by the poller was not stopped by the hub: JupyterHub records no stop time.
      on('stop', (e) => {
        if (e.reason !== 'died') this.stopDuration.observe({ status: 'success' }, e.seconds);
      }),
      on('proxy-add', (e) => this.proxyAddDuration.observe({ status: e.ok ? 'success' : 'failure' }, e.seconds)),
      on('proxy-delete', (e) => this.proxyDeleteDuration.observe({ status: e.ok ? 'success' : 'failure' }, e.seconds)),
      on('proxy-poll', (e) => this.proxyPollDuration.observe(e.seconds)),
      on('server-poll', (e) => this.serverPollDuration.observe({ status: e.running ? 'running' : 'stopped' }, e.seconds)),
    );
  }

  /** The hub's start-up time (from buildHub to listening with routes reconciled). */
  observeStartup(seconds: number): void {
    this.hubStartupDuration.observe(seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Stops listening to the hub's events. */
  close(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /**
   * Total users and users active in the last 24h/7d/30d, from one query at most every
   * USER_COUNT_TTL_MS; concurrent scrapes share the query in flight. A failed query is logged, the
   * previous values are kept and it is not retried before the TTL either.
   */
  async userCounts(): Promise<UserCounts | null> {
    if (this.#now() - this.#countsAt < USER_COUNT_TTL_MS) return this.#counts;
    this.#countsInflight ??= this.#queryCounts()
      .then((c) => (this.#counts = c), (err) => {
        this.#deps.log.warn({ err: String(err) }, 'metrics: counting users failed');
        return this.#counts;
      })
      .finally(() => {
        this.#countsAt = this.#now();
        this.#countsInflight = null;
      });
    return this.#countsInflight;
  }

  async #queryCounts(): Promise<UserCounts> {
    const now = this.#now();
    const since = (p: Period) => new Date(now - ACTIVE_USER_PERIODS[p]);
    const row = await this.#deps.db
      .selectFrom('users')
      .select((eb) => [
        eb.fn.countAll().as('total'),
        eb.fn.countAll().filterWhere('last_activity', '>=', since('24h')).as('d1'),
        eb.fn.countAll().filterWhere('last_activity', '>=', since('7d')).as('d7'),
        eb.fn.countAll().filterWhere('last_activity', '>=', since('30d')).as('d30'),
      ])
      .executeTakeFirstOrThrow();
    return { total: Number(row.total), active: { '24h': Number(row.d1), '7d': Number(row.d7), '30d': Number(row.d30) } };
  }
}
