import type { PluginLogger } from '@tshub/plugin-api';
import { chpPathFromRoutespec, routespecFromChpPath } from './routespec.js';

/** A jupyterhub-owned route as reported by configurable-http-proxy. */
export interface ProxyRoute {
  /** Canonical hub routespec: the CHP key re-escaped, with a trailing '/'. */
  routespec: string;
  target: string;
  /**
   * The route data without `target` and `jupyterhub` (as in JupyterHub's `get_all_routes`): what
   * the hub set (`user`, `server_name`, `service`, `hub`, `extra`, …) plus CHP's `last_activity`.
   */
  data: Record<string, unknown>;
  /** CHP's `last_activity` for the route, or null when absent or unparsable. */
  lastActivity: Date | null;
}

/** Options of {@link ChpClient}. */
export interface ChpClientOptions {
  /** Base URL of the CHP REST API, e.g. `http://127.0.0.1:8001`. */
  apiUrl: string;
  /** CONFIGPROXY_AUTH_TOKEN shared with the proxy. */
  authToken: string;
  /** Most requests in flight at once (JupyterHub: 10). */
  concurrency?: number;
  /** Per-request timeout in ms (JupyterHub: 10 s). */
  requestTimeoutMs?: number;
  /** How long add/delete keep retrying 5xx answers and connection errors, in ms (default 30 s). */
  retryTimeoutMs?: number;
  /** How long getRoutes keeps retrying, in ms (default 2 s: it is polled, so it fails fast). */
  getRetryTimeoutMs?: number;
  /** CHP runs with --host-routing: the first key segment is a host and routespecs lack a leading '/'. */
  hostRouting?: boolean;
  log?: PluginLogger;
}

/** A failed call to the CHP REST API; `status` is undefined when no HTTP answer arrived. */
export class ProxyApiError extends Error {
  override readonly name = 'ProxyApiError';
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Bounds how many tasks run at once; waiters are served first come, first served. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // hand the slot straight to the next waiter, so `active` never exceeds the limit
      if (next) next();
      else this.active--;
    }
  }
}

type Attempt = { ok: true; body: string } | { ok: false; retry: boolean; error: ProxyApiError };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Client of configurable-http-proxy's REST API (`{apiUrl}/api/routes`), following JupyterHub's
 * `ConfigurableHTTPProxy`: token auth, bounded concurrency, retries of 5xx answers and connection
 * errors with exponential backoff, and only routes marked `jupyterhub: true` are the hub's.
 */
export class ChpClient {
  private apiUrl: string;
  private authToken: string;
  private readonly requestTimeoutMs: number;
  private readonly retryTimeoutMs: number;
  private readonly getRetryTimeoutMs: number;
  private readonly hostRouting: boolean;
  private readonly log: PluginLogger | undefined;
  private readonly semaphore: Semaphore;

  constructor(options: ChpClientOptions) {
    this.apiUrl = stripSlash(options.apiUrl);
    this.authToken = options.authToken;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.retryTimeoutMs = options.retryTimeoutMs ?? 30_000;
    this.getRetryTimeoutMs = options.getRetryTimeoutMs ?? 2_000;
    this.hostRouting = options.hostRouting ?? false;
    this.log = options.log;
    this.semaphore = new Semaphore(Math.max(1, options.concurrency ?? 10));
  }

  /** Changes the API URL and/or token used by later requests (PATCH /hub/api/proxy). */
  setCredentials(credentials: { apiUrl?: string; authToken?: string }): void {
    if (credentials.apiUrl !== undefined) this.apiUrl = stripSlash(credentials.apiUrl);
    if (credentials.authToken !== undefined) this.authToken = credentials.authToken;
  }

  /**
   * The jupyterhub-owned routes, keyed by canonical routespec. With `inactiveSince`, only routes
   * whose last_activity is older than that (CHP's `inactive_since` filter).
   * @throws ProxyApiError when the proxy does not answer 200 within a short retry window.
   */
  async getRoutes(inactiveSince?: Date): Promise<Map<string, ProxyRoute>> {
    const query = inactiveSince ? `?inactive_since=${encodeURIComponent(inactiveSince.toISOString())}` : '';
    const { body, url } = await this.request('GET', query, undefined, this.getRetryTimeoutMs);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      throw new ProxyApiError(`Proxy API GET ${url} answered with invalid JSON`, 200, { cause: err });
    }
    if (!isRecord(parsed)) throw new ProxyApiError(`Proxy API GET ${url} answered with a non-object`, 200);
    const routes = new Map<string, ProxyRoute>();
    for (const [chpPath, raw] of Object.entries(parsed)) {
      if (!isRecord(raw) || raw['jupyterhub'] !== true) continue;
      const { target, jupyterhub: _owner, ...data } = raw;
      if (typeof target !== 'string') continue;
      const routespec = routespecFromChpPath(chpPath, this.hostRouting);
      const lastActivity = typeof data['last_activity'] === 'string' ? new Date(data['last_activity']) : null;
      routes.set(routespec, {
        routespec,
        target,
        data,
        lastActivity: lastActivity && !Number.isNaN(lastActivity.getTime()) ? lastActivity : null,
      });
    }
    return routes;
  }

  /**
   * Adds or replaces the route `routespec` -> `target` with `data` (stored as
   * `{...data, target, jupyterhub: true}`).
   * @throws ProxyApiError on a 4xx answer, or when 5xx answers/connection errors outlast the retry window.
   */
  async addRoute(routespec: string, target: string, data: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify({ ...data, target, jupyterhub: true });
    await this.request('POST', chpPathFromRoutespec(routespec), body, this.retryTimeoutMs);
  }

  /**
   * Deletes the route `routespec`; a route that is already gone (404) is not an error.
   * @throws ProxyApiError like {@link ChpClient.addRoute}.
   */
  async deleteRoute(routespec: string): Promise<void> {
    try {
      await this.request('DELETE', chpPathFromRoutespec(routespec), undefined, this.retryTimeoutMs);
    } catch (err) {
      if (err instanceof ProxyApiError && err.status === 404) {
        this.log?.debug({ routespec }, 'proxy route already deleted');
        return;
      }
      throw err;
    }
  }

  /** Sends one request, retrying retryable failures with exponential backoff for up to `budgetMs`. */
  private async request(
    method: string,
    pathAndQuery: string,
    body: string | undefined,
    budgetMs: number,
  ): Promise<{ body: string; url: string }> {
    const url = `${this.apiUrl}/api/routes${pathAndQuery}`;
    const deadline = Date.now() + budgetMs;
    let wait = 200;
    for (let attempt = 1; ; attempt++) {
      const result = await this.semaphore.run(() => this.attempt(method, url, body));
      if (result.ok) return { body: result.body, url };
      const remaining = deadline - Date.now();
      if (!result.retry || remaining <= 0) {
        if (result.retry && attempt > 1) result.error.message += ` (gave up after ${attempt} attempts)`;
        throw result.error;
      }
      this.log?.warn({ err: result.error.message, attempt }, 'proxy API request failed, retrying');
      // full jitter keeps many concurrent retries from arriving in lock step
      await sleep(Math.min(remaining, wait * (0.5 + Math.random() / 2)));
      wait = Math.min(wait * 2, 5_000);
    }
  }

  private async attempt(method: string, url: string, body: string | undefined): Promise<Attempt> {
    const headers: Record<string, string> = { Authorization: `token ${this.authToken}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      const response = await fetch(url, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      const text = await response.text();
      if (response.ok) return { ok: true, body: text };
      const detail = text.trim() ? `: ${text.trim().slice(0, 200)}` : '';
      const error = new ProxyApiError(
        `Proxy API ${method} ${url} failed with ${response.status} ${response.statusText}${detail}`,
        response.status,
      );
      return { ok: false, retry: response.status >= 500, error };
    } catch (err) {
      const reason = describeFetchError(err, this.requestTimeoutMs);
      const error = new ProxyApiError(`Proxy API ${method} ${url} failed: ${reason}`, undefined, { cause: err });
      return { ok: false, retry: true, error };
    }
  }
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
    }
    return err.message;
  }
  return String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
