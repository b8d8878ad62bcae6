import type { Logger } from 'pino';
import { ChpClient, type ProxyRoute } from '../proxy/chp-client.js';
import type { ChpProcess } from '../proxy/chp-process.js';
import { diffRoutes, type DesiredRoute } from '../proxy/route-diff.js';
import type { HubEvents } from './hub-events.js';

/** What the hub wants routed: supplied by the server manager (ready servers, pending ones to keep). */
export interface RouteSource {
  readyRoutes(): Iterable<{ routespec: string; target: string; data: Record<string, unknown> }>;
  pendingRoutespecs(): Iterable<string>;
}

/**
 * Keeps configurable-http-proxy's table equal to what the hub wants: immediate add/delete on spawn
 * and stop, a full reconcile (JupyterHub's check_routes) at start-up, after a proxy restart and
 * every `intervalMs`.
 */
export class RouteManager {
  readonly client: ChpClient;
  readonly #log: Logger;
  readonly #hubTarget: () => string;
  readonly #extraRoutes: Readonly<Record<string, string>>;
  readonly #sources: RouteSource[] = [];
  #timer: NodeJS.Timeout | null = null;
  #process: ChpProcess | null = null;

  readonly #events: HubEvents | undefined;
  readonly #reconciled: Array<(routes: Map<string, ProxyRoute>) => Promise<void>> = [];

  /** subdomain_host's domain when the proxy routes by host, else ''. */
  readonly #hubDomain: string;

  /**
   * `hubDomain`: with subdomain_host the proxy runs with --host-routing; path-only routespecs
   * (services, extra routes) are then served on the hub's own host, while '/' stays the catch-all
   * that sends every other host (a user's host whose server is stopped) to the hub.
   */
  constructor(opts: { apiUrl: string; authToken: string; hubTarget: () => string; extraRoutes: Record<string, string>; log: Logger; events?: HubEvents; hubDomain?: string }) {
    this.#events = opts.events;
    this.#hubDomain = opts.hubDomain ?? '';
    this.client = new ChpClient({ apiUrl: opts.apiUrl, authToken: opts.authToken, hostRouting: Boolean(this.#hubDomain) });
    this.#log = opts.log;
    this.#hubTarget = opts.hubTarget;
    this.#extraRoutes = opts.extraRoutes;
  }

  /** Adds a provider of desired routes (the server manager; the service registry). */
  addSource(source: RouteSource): void {
    this.#sources.push(source);
  }

  /** Supervise a hub-started proxy: after each restart, restore every route. */
  attachProcess(proc: ChpProcess): void {
    this.#process = proc;
    proc.onRestart(async () => {
      const t0 = Date.now();
      await this.reconcile();
      this.#log.warn({ ms: Date.now() - t0 }, 'proxy restarted; routes restored');
    });
  }

  get process(): ChpProcess | null {
    return this.#process;
  }

  startPeriodic(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      this.reconcile()
        .then(async (routes) => {
          for (const cb of this.#reconciled) await cb(routes);
        })
        .catch((err) => this.#log.warn({ err: String(err) }, 'route check failed'));
    }, intervalMs);
    this.#timer.unref();
  }

  stopPeriodic(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Called with the proxy's table after every periodic reconcile (activity collection). */
  onReconciled(cb: (routes: Map<string, ProxyRoute>) => Promise<void>): void {
    this.#reconciled.push(cb);
  }

  async add(routespec: string, target: string, data: Record<string, unknown>): Promise<void> {
    const spec = this.#onHost(routespec);
    await this.#timed('proxy-add', spec, () => this.client.addRoute(spec, target, data));
  }

  async delete(routespec: string): Promise<void> {
    const spec = this.#onHost(routespec);
    await this.#timed('proxy-delete', spec, () => this.client.deleteRoute(spec));
  }

  /** With host routing, a path routespec other than the catch-all '/' lives on the hub's host. */
  #onHost(routespec: string): string {
    return this.#hubDomain && routespec.startsWith('/') && routespec !== '/' ? `${this.#hubDomain}${routespec}` : routespec;
  }

  async #timed(event: 'proxy-add' | 'proxy-delete', routespec: string, op: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    let ok = false;
    try {
      await op();
      ok = true;
    } finally {
      this.#events?.emit(event, { routespec, seconds: (performance.now() - t0) / 1000, ok });
    }
  }

  /** The desired table: the hub at '/', ready servers, extra routes. */
  desired(): Map<string, DesiredRoute> {
    const want = new Map<string, DesiredRoute>();
    want.set('/', { target: this.#hubTarget(), data: { hub: true } });
    for (const source of this.#sources) for (const r of source.readyRoutes()) want.set(this.#onHost(r.routespec), { target: r.target, data: r.data });
    for (const [spec, target] of Object.entries(this.#extraRoutes)) want.set(this.#onHost(spec), { target, data: { extra: true } });
    return want;
  }

  /** JupyterHub's check_routes. Returns the routes it read, for activity collection. */
  async reconcile(): Promise<Map<string, ProxyRoute>> {
    const t0 = performance.now();
    const actual = await this.client.getRoutes();
    this.#events?.emit('proxy-poll', { seconds: (performance.now() - t0) / 1000, routes: actual.size });
    const diff = diffRoutes(this.desired(), actual, new Set(this.#sources.flatMap((s) => [...s.pendingRoutespecs()].map((spec) => this.#onHost(spec)))));
    await Promise.all([
      ...diff.add.map((r) => this.client.addRoute(r.routespec, r.target, r.data)),
      ...diff.remove.map((spec) => this.client.deleteRoute(spec)),
    ]);
    this.#events?.emit('check-routes', { seconds: (performance.now() - t0) / 1000, added: diff.add.length, removed: diff.remove.length });
    if (diff.add.length || diff.remove.length) this.#log.info({ added: diff.add.map((r) => r.routespec), removed: diff.remove }, 'proxy routes reconciled');
    return actual;
  }
}
