import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { pino, type Logger } from 'pino';
import { HubError, type PluginStore } from '@tshub/plugin-api';
import { HubEvents } from './services/hub-events.js';
import { ActivityBuffer } from './services/activity-buffer.js';
import { ActivityLog } from './services/activity-log.js';
import type { TshubConfig } from './config/schema.js';
import { openDatabase, type OpenDatabase } from './db/open-database.js';
import { migrateToLatest } from './db/migrate.js';
import { pluginStore } from './db/plugin-store.js';
import { ensureUser } from './db/users.js';
import { loadGroups } from './services/load-groups.js';
import { syncRoles } from './services/sync-roles.js';
import { ServiceRegistry } from './services/service-registry.js';
import { ManagedServices } from './services/managed-services.js';
import { IdentityResolver } from './auth/identity.js';
import { RequestAuth } from './auth/request-auth.js';
import { TRUSTED_PROXIES } from './auth/cookies.js';
import { TokenActivity } from './auth/token-activity.js';
import { ensureApiTokens } from './auth/config-tokens.js';
import { createAuthServices } from './auth/auth-services.js';
import { checkSomeoneCanLogIn, cryptFromEnv, validateAuthenticator } from './auth/startup-checks.js';
import { lateStore } from './auth/late-store.js';
import { defaultRegistry, type Registry } from './registry.js';
import { JUPYTERHUB_VERSION, type HubContext, type HubUrls } from './hub-context.js';
import { RouteManager } from './services/route-manager.js';
import { ServerManager, commonSpawnerConfig } from './services/server-manager.js';
import { imagePrePull } from './services/image-prepull.js';
import { proxyActivityCollector } from './services/proxy-activity.js';
import { TemplateRenderer } from './pages/template-renderer.js';
import { PageRenderer } from './pages/page-renderer.js';
import { AdminSetup } from './pages/admin-setup.js';
import { apiPlugin } from './api/api-plugin.js';
import { openApiRoute, registerOpenApi } from './api/openapi.js';
import { loginPages } from './pages/login-pages.js';
import { serverPages } from './pages/server-pages.js';
import { accountPages } from './pages/account-pages.js';
import { adminPage } from './pages/admin-page.js';
import { userUrlPages } from './pages/user-url-pages.js';
import { acceptSharePage } from './pages/accept-share-page.js';
import { HubMetrics } from './services/metrics.js';
import { metricsRoute } from './api/metrics-route.js';
import { loadCookieSecret } from './cookie-secret.js';
import { newToken } from './auth/secrets.js';
import { startHub, type StartOptions, type StartedHub } from './start-hub.js';
import { drainOversizedBodies } from './drain-oversized.js';
import { parseSubdomainHost } from './subdomain-host.js';
import { userHostGuard } from './pages/user-host-guard.js';

export interface BuildHubOptions {
  config: TshubConfig;
  registry?: Registry;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  /** Called after POST /hub/api/shutdown has stopped the hub (the CLI exits the process here). */
  onShutdown?: () => void;
}

/** A built, not yet listening hub. */
export interface Hub {
  readonly app: FastifyInstance;
  readonly ctx: HubContext;
  readonly database: OpenDatabase;
  readonly adminSetup: AdminSetup;
  readonly proxyAuthToken: string;
  /** Listens, starts or connects the proxy, re-adopts servers, reconciles routes. */
  start(opts?: StartOptions): Promise<StartedHub>;
  /** Stops what start() started (servers only with cleanup_servers) and closes the database. */
  close(): Promise<void>;
}

/** Normalises a base URL to `/prefix/` form. */
export function normalizeBaseUrl(base: string): string {
  let b = base.trim() || '/';
  if (!b.startsWith('/')) b = '/' + b;
  if (!b.endsWith('/')) b += '/';
  return b;
}

/**
 * The composition root: wires configuration, database, authenticator, spawner, proxy client, server
 * manager, API and pages into an un-listened Fastify app. Tests call it directly.
 */
export async function buildHub(opts: BuildHubOptions): Promise<Hub> {
  const { config } = opts;
  const buildStarted = performance.now();
  const env = opts.env ?? process.env;
  const registry = opts.registry ?? defaultRegistry();
  const log = opts.logger ?? pino({ level: config.hub.log_level, base: undefined });
  const authPlugin = registry.authenticators.get(config.authenticator.kind)!;
  const spawnerPlugin = registry.spawners.get(config.spawner.kind)!;
  const baseUrl = normalizeBaseUrl(config.hub.base_url !== '/' ? config.hub.base_url : new URL(config.hub.bind_url.replace('://:', '://0.0.0.0:')).pathname);
  const publicOrigin = config.hub.public_url ? new URL(config.hub.public_url).origin : '';
  const subdomain = parseSubdomainHost(config.hub.subdomain_host);
  const urls: HubUrls = { baseUrl, hubPrefix: `${baseUrl}hub/`, hubUrl: '', hubApiUrl: '', publicOrigin, subdomain };
  // The login configuration is checked before anything is opened, so a bad one fails at once.
  const crypt = cryptFromEnv(config.authenticator, env);
  let authStore: PluginStore | null = null;
  const authenticator = authPlugin.create({
    config: config.authenticator, store: lateStore(() => authStore), log: log.child({ authenticator: authPlugin.kind }),
    urls: { hubPrefix: urls.hubPrefix, publicOrigin },
  });
  // Local accounts are created by an admin, so having one is what "allowed" means, unless anyone may
  // create one by logging in (first_use_passwords).
  const implicitAllowAll = authPlugin.kind === 'local' && config.authenticator.first_use_passwords !== true;
  checkSomeoneCanLogIn(config.authenticator, authenticator, { kind: authPlugin.kind, implicitAllowAll });
  await validateAuthenticator(authenticator, authPlugin.kind);

  // One Docker client / watch cache per hub, closed with it. Opened before anything is written, so a
  // spawner configuration the engine or cluster refuses leaves nothing behind.
  const spawnerShared = spawnerPlugin.openShared
    ? await spawnerPlugin.openShared({ config: config.spawner, common: commonSpawnerConfig(config), log: log.child({ spawner: spawnerPlugin.kind }) })
    : undefined;

  // Only now, so a refused start leaves no files behind.
  const dataDir = path.resolve(config.hub.data_dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const cookieSecret = loadCookieSecret({ configured: config.hub.cookie_secret, file: config.hub.cookie_secret_file || path.join(dataDir, 'jupyterhub_cookie_secret'), env });

  let database: OpenDatabase;
  try {
    database = await openDatabase({ dbUrl: config.hub.db_url || env.TSHUB_DB_URL || '', dataDir });
  } catch (err) {
    await spawnerShared?.close().catch(() => undefined);
    throw err;
  }
  try {
    await migrateToLatest(database.db);
  } catch (err) {
    await database.close();
    await spawnerShared?.close().catch(() => undefined);
    throw err;
  }
  const { db } = database;
  authStore = pluginStore(db, authPlugin.kind);

  const proxyAuthToken = config.proxy.auth_token || env.CONFIGPROXY_AUTH_TOKEN || (config.proxy.should_start ? newToken() : '');
  if (!proxyAuthToken) throw new HubError(500, 'proxy.should_start is false, so the proxy auth token must be given: set proxy.auth_token or $CONFIGPROXY_AUTH_TOKEN');

  const identities = new IdentityResolver(db);
  const loginServices = createAuthServices({
    db, authenticator, config: config.authenticator, kind: authPlugin.kind, implicitAllowAll, crypt, log, invalidate: () => identities.invalidate(),
  });
  await loginServices.state.reencryptAll();
  const events = new HubEvents();
  // Activity reports are merged in memory and written at most every 5 s (or activity_resolution if shorter).
  const activity = new ActivityBuffer(db, log, Math.min(config.hub.activity_resolution, 5) * 1000);
  const routes = new RouteManager({ apiUrl: config.proxy.api_url, authToken: proxyAuthToken, hubTarget: () => (config.hub.hub_connect_url ? new URL(config.hub.hub_connect_url).origin : urls.hubUrl), extraRoutes: config.proxy.extra_routes, log, events, hubDomain: subdomain?.domain ?? '' });
  const servers = new ServerManager({ config, db, log, urls, plugin: spawnerPlugin, shared: spawnerShared, routes, identities, loginServices, events });
  routes.addSource(servers);
  // JupyterHub's update_last_activity: the proxy's per-route activity, after each periodic route check.
  routes.onReconciled(proxyActivityCollector({ db, servers, log }));
  const services = new ServiceRegistry({ db, log, urls, identities, routes, roles: config.load_roles });
  routes.addSource(services);
  const managedServices = new ManagedServices({ registry: services, urls, hubIp: config.hub.hub_ip, log, dataDir, hubEnv: env });
  const renderer = new TemplateRenderer({ templatePaths: config.hub.template_paths, vars: config.hub.template_vars });

  const ctx: HubContext = {
    config, db, log, urls, version: JUPYTERHUB_VERSION, identities, authenticator, authenticatorKind: authPlugin.kind, loginServices,
    spawnerPlugin, servers, routes, renderer, events, activity,
  };
  // The events table and the structured event log lines; flushed on close.
  const activityLog = ActivityLog.start({ db, log, events, config: config.activity_log });
  const metrics = new HubMetrics({ events, servers, db, log, env });
  // As JupyterHub does at start-up: configured admins exist and are admins.
  for (const name of config.authenticator.admin_users) await ensureUser(db, name.trim().toLowerCase(), { admin: true });
  await loadGroups(db, config.hub.load_groups);
  // Roles may name services: services first.
  await services.syncFromConfig(config.services);
  await syncRoles(db, config.load_roles, config.authenticator.admin_users.map((n) => n.trim().toLowerCase()), log);
  await ensureApiTokens(db, config.hub.api_tokens);

  const httpsConfigured = urls.publicOrigin.startsWith('https:') || config.hub.bind_url.startsWith('https:');
  const tokenActivity = new TokenActivity(db, log, config.hub.activity_resolution * 1000, (u) => activityLog.recordActivity(u));
  const auth = new RequestAuth(db, identities, { hubPrefix: urls.hubPrefix, cookieMaxAgeDays: config.hub.cookie_max_age_days, httpsConfigured, publicOrigin: urls.publicOrigin, log }, tokenActivity, loginServices.refresher);
  const pages = new PageRenderer(ctx, auth);
  const adminSetup = new AdminSetup();

  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // X-Forwarded-Proto/Host from the proxy on this machine (request origin, Secure cookies, referer check).
    trustProxy: TRUSTED_PROXIES,
    routerOptions: { ignoreDuplicateSlashes: true, maxParamLength: 1000 },
    // A path fastify cannot decode (`/hub/user/alice/%C3`) is the visitor's error, in the hub's shapes.
    frameworkErrors: (err, req, raw) => {
      const reply = raw as unknown as FastifyReply;
      const status = typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 400;
      const message = err.code === 'FST_ERR_BAD_URL' ? 'Malformed URL: the path has an invalid escape sequence.' : 'Bad request.';
      if (req.url.startsWith(`${urls.hubPrefix}api`)) return void reply.code(status).type('application/json').send({ status, message });
      void pages.error(req as unknown as FastifyRequest, reply, status, message).catch(() => reply.code(status).type('text/plain').send(message));
    },
  });
  await app.register(cookie, { secret: cookieSecret });
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    // NUL cannot be stored in Postgres text; no JupyterHub field legitimately contains one.
    if (text.includes('\u0000') || /\\u0000/i.test(text)) return done(new HubError(400, 'Invalid JSON in body of request: NUL characters are not allowed'), undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new HubError(400, 'Invalid JSON in body of request'), undefined);
    }
  });
  // JupyterHub's get_json_body ignores Content-Type; tornado's client (jupyterhub-idle-culler's
  // DELETE .../servers/x {"remove": true}) sends none.
  app.addHook('onRequest', async (req) => {
    if (req.headers['content-type'] === undefined && (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined)) {
      req.headers['content-type'] = 'application/json';
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('X-JupyterHub-Version', JUPYTERHUB_VERSION);
    return payload;
  });
  // NUL cannot be stored in Postgres text; no name, id or option legitimately contains one.
  app.addHook('preHandler', async (req) => {
    for (const bag of [req.params, req.query]) {
      if (bag && typeof bag === 'object') {
        for (const v of Object.values(bag as Record<string, unknown>)) {
          if (typeof v === 'string' && v.includes('\u0000')) throw new HubError(400, 'Invalid character (NUL) in the request URL');
        }
      }
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    events.emit('request', { method: req.method, handler: req.routeOptions.url ?? 'unknown', code: reply.statusCode, seconds: reply.elapsedTime / 1000 });
  });
  drainOversizedBodies(app);
  if (subdomain) userHostGuard(app, { subdomain, apiPrefix: `${urls.hubPrefix}api`, log });
  app.setErrorHandler(async (err: Error & { statusCode?: number }, req, reply) => {
    const status = err instanceof HubError ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) log.error({ err, url: req.url }, 'page request failed');
    if (err instanceof HubError) for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
    return pages.error(req, reply, status, status >= 500 ? 'Something went wrong in the hub. The hub log has details.' : err.message);
  });
  app.setNotFoundHandler(async (req, reply) => pages.error(req, reply, 404, 'There is nothing at this address.'));

  let started: StartedHub | null = null;
  let closing: Promise<void> | null = null;
  const close = async (opts: { servers?: boolean; proxy?: boolean } = {}) => {
    closing ??= (async () => {
      if (started) await started.stop(opts);
      await activity.flush();
      await activityLog.close();
      await app.close();
      imagePrePull(ctx).cancel();
      await spawnerShared?.close().catch((err: unknown) => log.warn({ err }, 'closing the spawner failed'));
      await database.close();
    })();
    return closing;
  };
  const shutdown = (opts: { servers?: boolean; proxy?: boolean }) => {
    // Answer first, then stop: the 202 must reach the client.
    setTimeout(() => void close(opts).then(() => opts0.onShutdown?.(), (err) => log.error({ err }, 'shutdown failed')), 50);
  };
  const opts0 = opts;
  const apiEnv = { hub: ctx, auth, pages, shutdown, services };
  await registerOpenApi(app, { apiPrefix: `${urls.hubPrefix}api`, version: JUPYTERHUB_VERSION });
  await app.register(async (api) => {
    await apiPlugin(api, apiEnv);
    await openApiRoute(api, app);
  }, { prefix: `${urls.hubPrefix}api` });
  const pageEnv = { hub: ctx, auth, pages, adminSetup, implicitAllowAll };
  await loginPages(app, pageEnv);
  await serverPages(app, pageEnv);
  await accountPages(app, pageEnv);
  await adminPage(app, pageEnv);
  await acceptSharePage(app, pageEnv);
  await userUrlPages(app, pageEnv);
  await metricsRoute(app, { hub: ctx, auth, metrics });

  return {
    app, ctx, database, adminSetup, proxyAuthToken,
    async start(startOpts = {}) {
      started = await startHub({ app, ctx, adminSetup, proxyAuthToken, dataDir, managedServices }, startOpts);
      metrics.observeStartup((performance.now() - buildStarted) / 1000);
      return started;
    },
    close: () => close(),
  };
}
