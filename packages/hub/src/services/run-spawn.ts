import { HubError, SpawnError, type JsonObject, type Spawner } from '@tshub/plugin-api';
import { markSpawnerStarted } from '../db/spawners.js';
import type { HubUrls } from '../hub-context.js';
import { issueServerCredentials } from './server-credentials.js';
import type { ServerManager, SpawnUserInfo } from './server-manager.js';
import type { ServerRuntime } from './server-runtime.js';
import { buildSpawnEnv } from './spawn-env.js';
import { ExitedEarly, HttpTimeout, waitForHttp } from './wait-for-http.js';

class StartTimeout extends Error {}

/**
 * The public-URL variables of a server's environment. With subdomain_host, JUPYTERHUB_HOST is the
 * hub's origin (jupyterhub-singleuser sends logins there, across origins) and the server's public
 * URL is on its own host; with public_url, the hub's public origin; else all ''.
 */
function publicEnv(urls: HubUrls, serverUrl: string): { hubHost: string; publicUrl: string; publicHubUrl: string } {
  if (urls.subdomain) return { hubHost: urls.subdomain.origin, publicUrl: serverUrl, publicHubUrl: urls.subdomain.origin + urls.hubPrefix };
  const origin = urls.publicOrigin;
  return { hubHost: origin, publicUrl: origin ? origin + urls.baseUrl : '', publicHubUrl: origin ? origin + urls.hubPrefix : '' };
}

/**
 * The spawn pipeline for one server (JupyterHub's spawn_single_user + User.spawn): credentials,
 * environment, `Spawner.start` within start_timeout, HTTP readiness within http_timeout, persist,
 * route, ready. On any failure the server is stopped and cleaned up and the runtime keeps the
 * message for the spawn-pending page and the progress stream. Resolves true when ready.
 */
export async function runSpawn(mgr: ServerManager, rt: ServerRuntime, user: SpawnUserInfo, userOptions: JsonObject): Promise<boolean> {
  const { config, db, log, urls, routes } = mgr.deps;
  const t0 = performance.now();
  let spawner: Spawner | null = null;
  try {
    const authState = await checkLoginForSpawn(mgr, user);
    const { token, clientId } = await issueServerCredentials(db, { userId: user.id, user: user.name, server: rt.serverName, spawnerId: rt.spawnerId, url: rt.publicUrl });
    const env = buildSpawnEnv({
      user: user.name, server: rt.serverName, apiToken: token, hubApiUrl: urls.hubApiUrl, baseUrl: urls.baseUrl,
      servicePrefix: rt.prefix, serverUrl: rt.publicUrl, clientId, ...publicEnv(urls, rt.publicUrl), adminAccess: config.hub.admin_access,
      defaultUrl: mgr.common.default_url, notebookDir: mgr.common.notebook_dir, envKeep: mgr.common.env_keep, hubEnv: process.env,
      environment: mgr.common.environment, memLimit: mgr.common.mem_limit, memGuarantee: mgr.common.mem_guarantee,
      cpuLimit: mgr.common.cpu_limit, cpuGuarantee: mgr.common.cpu_guarantee,
    });
    spawner = mgr.createSpawner(rt, { ...user, authState }, {}, userOptions, env);
    rt.spawner = spawner;
    if (spawner.progress) void forwardProgress(spawner, rt);
    else rt.emit({ progress: 50, message: 'Spawning server...' });

    const startMs = mgr.common.start_timeout * 1000;
    const timer = setTimeout(() => rt.abort.abort(new StartTimeout()), startMs);
    let url: string;
    try {
      url = (await raceAbort(spawner.start(rt.abort.signal), rt.abort.signal)).url;
    } finally {
      clearTimeout(timer);
    }
    rt.url = url;
    rt.emit({ progress: 80, message: 'Server process started; waiting for it to answer...' });
    const probe = spawner;
    await waitForHttp(`${url}${rt.prefix}api`, {
      timeoutMs: mgr.common.http_timeout * 1000,
      signal: rt.abort.signal,
      stillAlive: async () => (await probe.poll()).running,
    });
    if (rt.abort.signal.aborted) throw rt.abort.signal.reason;
    rt.started = new Date();
    rt.lastActivity = rt.started;
    await markSpawnerStarted(db, rt.spawnerId, { url, state: spawner.state(), userOptions, started: rt.started });
    await routes.add(rt.routespec, url, { user: user.name, server_name: rt.serverName });
    rt.phase = 'ready';
    const seconds = (performance.now() - t0) / 1000;
    log.info({ user: user.name, server: rt.serverName, seconds: Number(seconds.toFixed(3)) }, 'server ready');
    mgr.deps.events.emit('spawn-ready', { user: user.name, server: rt.serverName, seconds });
    rt.emit({ progress: 100, ready: true, message: `Server ready at ${rt.publicUrl}`, html_message: `Server ready at <a href="${rt.publicUrl}">${rt.publicUrl}</a>`, url: rt.publicUrl });
    return true;
  } catch (err) {
    rt.failing = true;
    const cancelled = rt.abort.signal.aborted && !(rt.abort.signal.reason instanceof StartTimeout);
    const { message, reason } = cancelled ? { message: 'Spawn cancelled', reason: 'cancelled' } : await describe(err, spawner, mgr);
    log.warn({ user: user.name, server: rt.serverName, reason, err: err instanceof SpawnError ? err.message : String(err) }, 'spawn failed');
    // The runtime stays 'spawning' until the process is gone and its credentials are revoked: a retry
    // started any earlier would share this spawner row, and the cleanup would revoke its new token.
    if (spawner) await spawner.stop({ now: true }).catch((e) => log.warn({ err: String(e) }, 'stop after failed spawn failed'));
    await mgr.cleanupFailed(rt).catch((e) => log.error({ err: String(e) }, 'cleanup after failed spawn failed'));
    rt.failure = { message, reason };
    rt.phase = 'failed';
    mgr.deps.events.emit('spawn-failed', { user: user.name, server: rt.serverName, seconds: (performance.now() - t0) / 1000, reason, message });
    rt.emit({ progress: 100, failed: true, message: cancelled ? message : `Spawn failed: ${message}` });
    return false;
  }
}

/**
 * refresh_pre_spawn: the authenticator re-checks the login first (a revoked login cannot start a
 * server); then the decrypted auth_state for the spawner (null unless enable_auth_state).
 */
async function checkLoginForSpawn(mgr: ServerManager, user: SpawnUserInfo): Promise<JsonObject | null> {
  const services = mgr.deps.loginServices;
  const config = mgr.deps.config.authenticator;
  if (!services) return null;
  if (config.refresh_pre_spawn && services.refresher.enabled) {
    let valid: boolean;
    try {
      valid = await services.refresher.refresh(user.id);
    } catch (err) {
      const detail = err instanceof HubError ? err.message : 'the identity provider did not answer';
      throw new SpawnError('auth-refresh-failed', `Your login could not be re-checked before starting the server (${detail}). Try again in a moment.`);
    }
    if (!valid) {
      // Every session of the user ends: the next page asks them to log in again.
      await mgr.deps.db.deleteFrom('sessions').where('user_id', '=', user.id).execute();
      mgr.deps.identities.invalidate();
      throw new SpawnError('auth-expired', 'Your login is no longer valid. Log in again, then start your server.');
    }
  }
  return config.enable_auth_state ? services.state.load(user.id) : null;
}

/** Why a spawn failed and what to show for it (ServerRuntime.failure). */
export interface SpawnFailure {
  readonly reason: string;
  readonly message: string;
}

/**
 * The HTTP answer for a failed spawn (API and pages alike). A login the authenticator no longer
 * accepts is the caller's to fix: 403, as JupyterHub answers refresh_pre_spawn ("auth has expired").
 * An identity provider that did not answer is a dependency's fault, worth retrying: 503 with
 * Retry-After. Anything else is the spawner's failure: 500, as in JupyterHub. `byOther`: the request
 * came from someone else (an admin), so the message names the user instead of saying "your".
 */
export function spawnFailureError(failure: SpawnFailure | null, opts: { user: string; byOther: boolean }): HubError {
  const reason = failure?.reason ?? 'error';
  if (reason === 'auth-expired') {
    return new HubError(403, opts.byOther ? `The login of ${opts.user} is no longer valid: they must log in again before their server can start.` : failure!.message);
  }
  if (reason === 'auth-refresh-failed') return new HubError(503, failure!.message, { headers: { 'Retry-After': String(REFRESH_RETRY_SECONDS) } });
  return new HubError(500, `Spawn failed: ${failure?.message ?? 'unknown error'}`);
}

/** Whether a failure is about the login rather than the server (pages offer "log in" then). */
export const isLoginFailure = (failure: SpawnFailure | null): boolean => failure?.reason === 'auth-expired';

const REFRESH_RETRY_SECONDS = 30;

async function describe(err: unknown, spawner: Spawner | null, mgr: ServerManager): Promise<{ message: string; reason: string }> {
  const output = async () => {
    const lastOutput = (spawner as { lastOutput?: () => Promise<string> } | null)?.lastOutput;
    const text = lastOutput ? await lastOutput.call(spawner).catch(() => '') : '';
    return text.trim() ? `\nLast output of the server:\n${text.trim()}` : '';
  };
  if (err instanceof StartTimeout) return { reason: 'timeout', message: `Timeout: the server did not start within ${plural(mgr.common.start_timeout, 'second')}.${await output()}` };
  if (err instanceof HttpTimeout) return { reason: 'timeout', message: `Timeout: the server started but did not answer within ${plural(mgr.common.http_timeout, 'second')}.${await output()}` };
  if (err instanceof ExitedEarly) return { reason: 'exited', message: `The server exited before it was ready.${await output()}` };
  if (err instanceof SpawnError) return { reason: err.reason, message: err.message.replace(/^Spawn failed: /, '') };
  mgr.deps.log.error({ err }, 'spawner crashed');
  return { reason: 'error', message: 'An internal error occurred while starting the server; the hub log has details.' };
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

async function forwardProgress(spawner: Spawner, rt: ServerRuntime): Promise<void> {
  try {
    for await (const e of spawner.progress!()) {
      if (rt.phase !== 'spawning') break;
      rt.emit({ progress: Math.min(99, Math.max(0, e.progress)), message: e.message, ...(e.html_message ? { html_message: e.html_message } : {}) });
    }
  } catch {
    // Progress is advisory; the spawn's own result decides.
  }
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
