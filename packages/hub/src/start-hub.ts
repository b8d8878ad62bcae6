import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { HubContext } from './hub-context.js';
import type { AdminSetup } from './pages/admin-setup.js';
import { ChpProcess } from './proxy/chp-process.js';
import type { ManagedServices } from './services/managed-services.js';
import { Culler } from './services/culler.js';
import { prePullOnStart } from './services/image-prepull.js';

export interface StartOptions {
  /** Override hub_port (tests pass 0). */
  hubPort?: number;
  /** Override the proxy's public and API ports (tests pick free ones). */
  proxyPublicPort?: number;
  proxyApiPort?: number;
}

export interface StartedHub {
  /** Where the hub process listens. */
  readonly hubUrl: string;
  /** The public URL (the proxy). */
  readonly publicUrl: string;
  readonly proxy: ChpProcess | null;
  /** The built-in idle culler, when `culler.enabled`. */
  readonly culler: Culler | null;
  /** Stops what start() started; `servers`/`proxy` override cleanup_servers/cleanup_proxy. */
  stop(opts?: { servers?: boolean; proxy?: boolean }): Promise<void>;
}

/** `http://:8000/x` -> { ip: '', port: 8000, scheme: 'http' } (an empty host means all interfaces). */
export function parseBindUrl(bindUrl: string): { scheme: string; ip: string; port: number } {
  const m = /^(https?):\/\/(\[[^\]]*\]|[^:/]*)(?::(\d+))?/.exec(bindUrl);
  if (!m) throw new Error(`hub.bind_url: cannot parse '${bindUrl}'`);
  const scheme = m[1]!;
  return { scheme, ip: (m[2] ?? '').replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : scheme === 'https' ? 443 : 80 };
}

const connectHost = (ip: string) => (ip === '' || ip === '0.0.0.0' ? '127.0.0.1' : ip === '::' ? '::1' : ip);
const urlHost = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

/**
 * Brings a built hub up: listen, start (or reach) the proxy, re-adopt servers that survived a hub
 * restart, reconcile routes, start the periodic route check, print the first-run admin link.
 */
export async function startHub(
  deps: { app: FastifyInstance; ctx: HubContext; adminSetup: AdminSetup; proxyAuthToken: string; dataDir: string; managedServices?: ManagedServices },
  opts: StartOptions,
): Promise<StartedHub> {
  const { app, ctx, adminSetup } = deps;
  const { config, log, urls, routes, servers } = ctx;
  const hubIp = config.hub.hub_ip;
  await app.listen({ host: hubIp || '0.0.0.0', port: opts.hubPort ?? config.hub.hub_port });
  const addr = app.server.address();
  const hubPort = typeof addr === 'object' && addr ? addr.port : config.hub.hub_port;
  urls.hubUrl = `http://${urlHost(connectHost(hubIp))}:${hubPort}`;
  urls.hubApiUrl = `${(config.hub.hub_connect_url || urls.hubUrl).replace(/\/$/, '')}${urls.hubPrefix}api`;

  const bind = parseBindUrl(config.hub.bind_url);
  const publicPort = opts.proxyPublicPort ?? bind.port;
  const api = new URL(config.proxy.api_url);
  const apiPort = opts.proxyApiPort ?? Number(api.port || 80);
  if (opts.proxyApiPort !== undefined) routes.client.setCredentials({ apiUrl: `${api.protocol}//${api.hostname}:${apiPort}` });

  let proxy: ChpProcess | null = null;
  if (config.proxy.should_start) {
    proxy = new ChpProcess({
      publicIp: bind.ip, publicPort, apiIp: api.hostname.replace(/^\[|\]$/g, ''), apiPort, authToken: deps.proxyAuthToken,
      errorTarget: `${urls.hubUrl}${urls.hubPrefix}error`,
      ...(config.proxy.command.length ? { command: config.proxy.command } : {}),
      logLevel: config.proxy.log_level,
      hostRouting: Boolean(urls.subdomain),
      pidFile: config.proxy.pid_file || path.join(deps.dataDir, 'jupyterhub-proxy.pid'),
      checkIntervalMs: config.proxy.check_running_interval * 1000,
      log: log.child({ component: 'proxy' }),
    });
    await proxy.start();
    routes.attachProcess(proxy);
  }

  const adoption = await servers.adoptAll();
  if (adoption.adopted || adoption.gone) log.info(adoption, 'servers from before the restart checked');
  await routes.reconcile();
  routes.startPeriodic(config.hub.last_activity_interval * 1000);
  const culler = config.culler.enabled ? new Culler(ctx) : null;
  culler?.start();
  // In the background: the first student of the day should not wait for a pull.
  prePullOnStart(ctx);
  // Managed services need the hub's API URL, known only now.
  await deps.managedServices?.startAll();

  const publicUrl = config.hub.public_url || `${bind.scheme}://${urlHost(connectHost(bind.ip))}:${publicPort}${urls.baseUrl}`;
  if (ctx.authenticatorKind === 'dummy') {
    log.warn('The dummy authenticator is on: ANYONE can log in as ANY user' + (config.authenticator.password ? ' who knows the shared password.' : '.') + ' Use it for demos and tests only.');
  }
  // With local accounts and no admin configured, 'admin' is the first account to set up.
  const admins = config.authenticator.admin_users.length || ctx.authenticatorKind !== 'local' ? config.authenticator.admin_users : ['admin'];
  const pendingAdmin = ctx.authenticator.pendingAdminSetup ? await ctx.authenticator.pendingAdminSetup(admins) : null;
  if (pendingAdmin) {
    const token = adminSetup.open(pendingAdmin);
    log.warn({ admin: pendingAdmin }, `No password is set for admin '${pendingAdmin}'. Set it once at: ${publicUrl}hub/setup-admin?token=${token}`);
  }
  log.info({ url: publicUrl }, `tshub is running at ${publicUrl}`);

  return {
    hubUrl: urls.hubUrl,
    publicUrl,
    proxy,
    culler,
    async stop(opts = {}) {
      routes.stopPeriodic();
      await culler?.stop();
      // As JupyterHub: managed services always stop with the hub.
      await deps.managedServices?.stopAll();
      if (opts.servers ?? config.hub.cleanup_servers) await servers.stopAll();
      else servers.detachAll();
      if (proxy && (opts.proxy ?? config.hub.cleanup_proxy)) await proxy.stop();
      else proxy?.detach();
    },
  };
}
