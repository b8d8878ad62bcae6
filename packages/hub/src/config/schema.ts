import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { AuthModel } from '@tshub/plugin-api';

const opt = <T extends TSchema>(schema: T, def: Static<T>, description: string) =>
  Type.Optional({ ...schema, default: def, description } as T);
const Str = (def: string, description: string) => opt(Type.String(), def, description);
const Bool = (def: boolean, description: string) => opt(Type.Boolean(), def, description);
const Num = (def: number, description: string, min = 0) => opt(Type.Number({ minimum: min }), def, description);
const Int = (def: number, description: string, min = 0) => opt(Type.Integer({ minimum: min }), def, description);
const StrList = (description: string) => opt(Type.Array(Type.String()), [], description);
const StrMap = (description: string) => opt(Type.Record(Type.String(), Type.String()), {}, description);
const closed = { additionalProperties: false } as const;

/** `hub:` — JupyterHub.* options. */
export const HubSection = Type.Object(
  {
    bind_url: Str('http://:8000', 'Public URL the proxy listens on (scheme, ip, port and base_url). An empty host means all interfaces.'),
    base_url: Str('/', 'URL prefix of the whole deployment; overrides the path of bind_url when set to something other than /.'),
    public_url: Str('', 'The full public URL when the hub sits behind another proxy; used in links and redirects.'),
    subdomain_host: Str('', "Serve each user's servers from their own host, <name>.<this host>, e.g. https://hub.example.org (JupyterHub.subdomain_host): a page a server serves is then cross-origin to the hub and to other users. Needs wildcard DNS (and a wildcard certificate); the proxy routes by host. Empty: every server under the hub's origin."),
    hub_ip: Str('127.0.0.1', 'Address the hub process itself listens on (the proxy forwards to it).'),
    hub_port: Int(8081, 'Port the hub process itself listens on.'),
    hub_connect_url: Str('', 'http(s) URL at which the proxy and user servers reach the hub, when it differs from http://hub_ip:hub_port (containers, other hosts). The proxy uses its origin; servers get <url>/hub/api.'),
    data_dir: Str('tshub-data', 'Directory for the embedded database, cookie secret and proxy pid file.'),
    db_url: Str('', "Database URL: postgres://user:pass@host/db, or empty for the embedded PGlite database in data_dir (also 'pglite:<dir>', 'pglite:memory:')."),
    cookie_secret: Str('', 'Hex or base64 secret that signs cookies. Empty: read cookie_secret_file, creating it on first start.'),
    cookie_secret_file: Str('', 'File holding the cookie secret (default data_dir/jupyterhub_cookie_secret).'),
    cookie_max_age_days: Num(14, 'How long a login lasts, in days.'),
    concurrent_spawn_limit: Int(100, 'Most spawns pending at once; more get 429 with Retry-After. 0 = no limit.'),
    active_server_limit: Int(0, 'Most servers running or starting at once; more get 429. 0 = no limit.'),
    spawn_throttle_retry_range: opt(Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })]), [30, 60], 'Range of the random Retry-After (seconds) sent with a spawn 429.'),
    allow_named_servers: Bool(false, 'Let users run several named servers.'),
    named_server_limit_per_user: Int(0, 'Most named servers per user; 0 = no limit.'),
    default_server_name: Str('', 'Server name used by /user-redirect and the home page when named servers are on.'),
    admin_access: Bool(false, 'Let admins open other users\' servers.'),
    redirect_to_server: Bool(true, 'After login, go straight to the user\'s server (starting it) instead of the home page.'),
    default_url: Str('', 'Where /hub/ sends logged-in users; empty = their server or the home page.'),
    shutdown_on_logout: Bool(false, 'Stop the user\'s servers when they log out.'),
    cleanup_servers: Bool(true, 'Stop all user servers when the hub shuts down. Set false to keep them running across hub restarts (they are re-adopted).'),
    cleanup_proxy: Bool(true, 'Stop the hub-started proxy when the hub shuts down.'),
    implicit_spawn_seconds: Num(0, 'On the "server not running" page, start the server automatically after this many seconds; 0 = never.'),
    last_activity_interval: Int(300, 'Seconds between proxy activity collection and route reconciliation; 0 disables both.'),
    activity_resolution: Int(30, 'Seconds: activity timestamps are written at most this often per user/token.'),
    slow_spawn_timeout: Num(10, 'Seconds an API or page request waits for a spawn before answering 202 / showing progress.'),
    slow_stop_timeout: Num(10, 'Seconds an API request waits for a stop before answering 202.'),
    oauth_token_expires_in: Int(0, 'Lifetime (seconds) of OAuth tokens issued to servers; 0 = the cookie lifetime.'),
    api_page_default_limit: Int(50, 'Default page size of paginated API lists.', 1),
    api_page_max_limit: Int(200, 'Largest page size of API lists (and the silent cap without pagination).', 1),
    token_expires_in_max_seconds: Int(0, 'Longest lifetime (seconds) of tokens created through the API; also their default. 0 = no limit.'),
    api_tokens: StrMap('Pre-shared API tokens for scripts: token -> user name. Stored hashed; the user is created if missing.'),
    load_groups: opt(
      Type.Record(Type.String(), Type.Union([Type.Array(Type.String()), Type.Object({ users: Type.Optional(Type.Array(Type.String())), properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }, closed)])),
      {},
      'Groups to create at start-up: name -> [users] or {users, properties}. Only adds.',
    ),
    template_paths: StrList('Directories searched before the built-in templates; a file there overrides the built-in one of the same name.'),
    template_vars: opt(Type.Record(Type.String(), Type.Unknown()), {}, 'Extra variables available in every template.'),
    announcement: Str('', 'A message shown at the top of every page.'),
    authenticate_prometheus: Bool(true, 'Require the read:metrics scope for /hub/metrics; false makes it public.'),
    active_user_window: Int(1800, 'Seconds within which a user counts as active (metrics).'),
    pre_pull_on_start: Bool(true, 'Pull the spawner\'s images (on every node) in the background when the hub starts, for kinds that can; progress at GET /hub/api/images/pre-pull.'),
    log_level: opt(Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]), 'info', 'Log level.'),
  },
  closed,
);

/** Common `authenticator:` options (Authenticator.*); the kind adds its own. */
export const AuthenticatorCommon = {
  kind: Str('local', "Authenticator kind: 'local' (accounts in the hub database) or 'dummy' (anyone; demos and tests only)."),
  admin_users: StrList('Users who are admins.'),
  allowed_users: StrList('Users allowed to log in (with allow_all false). Admin users are always allowed.'),
  blocked_users: StrList('Users who may never log in.'),
  allow_all: Bool(false, 'Allow every user the authenticator accepts (JupyterHub 5 semantics: off by default).'),
  allow_existing_users: opt(Type.Union([Type.Boolean(), Type.Null()]), null, 'Allow users already in the hub database; default: true when allowed_users is set.'),
  auto_login: Bool(false, 'Skip the login page and go straight to the authenticator (redirect kinds).'),
  username_pattern: Str('', 'Regular expression a username must match.'),
  username_map: StrMap('Rename users at login, after lower-casing: provider name -> hub name.'),
  manage_groups: Bool(false, "Groups from the authenticator replace the user's group memberships at each login (groups are created as needed)."),
  enable_auth_state: Bool(false, 'Keep what the authenticator knows about a user (tokens, attributes) encrypted in the database and hand it to spawners; needs $JUPYTERHUB_CRYPT_KEY.'),
  auth_refresh_age: Int(300, 'Seconds after which a login is re-checked with the authenticator (refresh_user) on the next request; 0 = every request.'),
  refresh_pre_spawn: Bool(true, 'Re-check the login with the authenticator (refresh_user) before each spawn.'),
  login_rate_limit: opt(
    Type.Object({ max_failures: Type.Optional(Type.Integer({ minimum: 0, default: 5 })), window_seconds: Type.Optional(Type.Integer({ minimum: 0, default: 300 })) }, closed),
    { max_failures: 5, window_seconds: 300 },
    'Failed logins allowed per username and per client address within window_seconds before further attempts get 429; 0 disables.',
  ),
  post_auth_hook: Type.Optional(
    Type.Unsafe<PostAuthHook | null>({ default: null, description: 'A function (in a .js/.ts config) run after a login passed the allow checks: (model, ctx) => model, or null to refuse.' }),
  ),
};

/** `authenticator.post_auth_hook`: may rewrite the model (name excepted) or refuse the login (null). */
export type PostAuthHook = (
  model: AuthModel,
  ctx: { readonly remoteAddress: string; readonly kind: string },
) => AuthModel | null | undefined | Promise<AuthModel | null | undefined>;

/** Common `spawner:` options (Spawner.*); the kind adds its own. */
export const SpawnerCommon = {
  kind: Str('simple', "Spawner kind: 'simple' (processes as the hub's user, one home per user) or 'local-process' (as system users)."),
  cmd: opt(Type.Array(Type.String(), { minItems: 1 }), ['jupyterhub-singleuser'], 'Command that starts a single-user server.'),
  args: StrList('Extra arguments for cmd.'),
  default_url: Str('', "URL the server opens on (e.g. /lab or /tree), relative to the server's prefix."),
  notebook_dir: Str('', 'Root directory of the server ({username} is expanded); default: the home directory.'),
  environment: StrMap('Environment variables for the server; applied last.'),
  env_keep: opt(Type.Array(Type.String()), ['PATH', 'PYTHONPATH', 'CONDA_ROOT', 'CONDA_DEFAULT_ENV', 'VIRTUAL_ENV', 'LANG', 'LC_ALL', 'LD_LIBRARY_PATH', 'JUPYTERHUB_SINGLEUSER_APP'], 'Variables copied from the hub\'s environment.'),
  ip: Str('127.0.0.1', 'Address user servers listen on.'),
  port: Int(0, 'Port user servers listen on; 0 picks a free one.'),
  start_timeout: Num(60, 'Seconds the spawner may take to start the server.', 1),
  http_timeout: Num(30, 'Seconds the started server may take to answer HTTP.', 1),
  poll_interval: Num(30, 'Seconds between checks that a running server is still alive.', 0.05),
  mem_limit: opt(Type.Union([Type.String({ pattern: '^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)[KMGT]?$' }), Type.Number(), Type.Null()]), null, 'Memory limit (bytes or 512M, 2G...).'),
  mem_guarantee: opt(Type.Union([Type.String({ pattern: '^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)[KMGT]?$' }), Type.Number(), Type.Null()]), null, 'Memory guarantee.'),
  cpu_limit: opt(Type.Union([Type.Number(), Type.Null()]), null, 'CPU limit (cores).'),
  cpu_guarantee: opt(Type.Union([Type.Number(), Type.Null()]), null, 'CPU guarantee (cores).'),
  options_form: Str('', 'HTML fields shown on the spawn page; their values become user_options.'),
};

/** `proxy:` — ConfigurableHTTPProxy.* */
export const ProxySection = Type.Object(
  {
    should_start: Bool(true, 'Start and supervise configurable-http-proxy; false to use one that runs already (set api_url and auth_token).'),
    api_url: Str('http://127.0.0.1:8001', 'The proxy\'s REST API.'),
    auth_token: Str('', 'Token for the proxy API; default $CONFIGPROXY_AUTH_TOKEN, generated when the hub starts the proxy.'),
    command: StrList('Command that starts the proxy; default: the configurable-http-proxy installed with tshub.'),
    pid_file: Str('', 'Where the proxy pid is kept (default data_dir/jupyterhub-proxy.pid).'),
    check_running_interval: Num(5, 'Seconds between proxy health checks (a proxy that exits is restarted at once).', 0.1),
    extra_routes: StrMap('Extra routes: routespec -> target.'),
    log_level: Str('warn', 'The proxy\'s log level.'),
  },
  closed,
);

/** One entry of `load_roles` (JupyterHub.load_roles). */
export const RoleEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: '^[a-z][a-z0-9_.-]*$', description: 'Role name (lower case); user, admin, server and token are the default roles and merge with what is given here.' }),
    description: Type.Optional(Type.String({ description: 'What the role is for.' })),
    scopes: Type.Optional(Type.Array(Type.String(), { description: 'Scopes the role grants, e.g. read:users!group=class.' })),
    users: Type.Optional(Type.Array(Type.String(), { description: 'Exactly these users hold the role (created if missing).' })),
    groups: Type.Optional(Type.Array(Type.String(), { description: 'Exactly these groups hold the role (created if missing).' })),
    services: Type.Optional(Type.Array(Type.String(), { description: 'Exactly these services hold the role (they must be defined).' })),
  },
  closed,
);

/** One entry of `services` (JupyterHub.services). */
export const ServiceEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\s]+$', description: 'Service name; routed at /services/<name>/ when it has a url.' }),
    url: Type.Optional(Type.String({ description: 'Where the service listens; the proxy routes /services/<name>/ to it.' })),
    command: Type.Optional(Type.Array(Type.String(), { minItems: 1, description: 'Makes it a managed service: the hub runs this command and restarts it if it dies.' })),
    environment: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Extra environment for a managed service.' })),
    cwd: Type.Optional(Type.String({ description: 'Working directory of a managed service.' })),
    user: Type.Optional(Type.String({ description: 'System user a managed service runs as (the hub must run as root).' })),
    admin: Type.Optional(Type.Boolean({ description: 'Give the service the admin role.' })),
    api_token: Type.Optional(Type.String({ minLength: 8, description: 'A pre-shared API token for the service (stored hashed).' })),
    oauth_client_id: Type.Optional(Type.String({ pattern: '^service-', description: 'OAuth client id (default service-<name>).' })),
    oauth_redirect_uri: Type.Optional(Type.String({ description: 'OAuth redirect URI (default /services/<name>/oauth_callback when url is set).' })),
    oauth_no_confirm: Type.Optional(Type.Boolean({ description: 'Skip the OAuth confirmation page for this service.' })),
    oauth_client_allowed_scopes: Type.Optional(Type.Array(Type.String(), { description: 'Scopes the service may request from users through OAuth.' })),
    oauth_roles: Type.Optional(Type.Array(Type.String(), { description: 'Deprecated: roles whose scopes the service may request.' })),
    info: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form information shown in the API.' })),
    display: Type.Optional(Type.Boolean({ description: 'List the service on the home page.' })),
  },
  closed,
);

export type RoleConfig = Static<typeof RoleEntry>;
export type ServiceConfig = Static<typeof ServiceEntry>;
/** `culler:` — the built-in idle culler (jupyterhub-idle-culler's options and semantics). */
export const CullerSection = Type.Object(
  {
    enabled: Bool(false, 'Run the built-in idle culler.'),
    timeout: Num(600, 'Seconds of idleness after which a server is stopped.', 1),
    cull_every: Num(0, 'Seconds between culler runs; 0 = half of timeout (at most 300).'),
    max_age: Num(0, 'Stop servers older than this many seconds, idle or not; 0 = no limit.'),
    cull_users: Bool(false, 'Also delete users who have been idle for timeout and have no running servers.'),
    remove_named_servers: Bool(false, 'Delete named servers (not just stop them) when culled.'),
    cull_admin_users: Bool(true, 'Also cull servers of admin users.'),
    concurrency: Int(10, 'Most servers stopped at once.', 1),
    idleness: opt(Type.Union([Type.Literal('activity'), Type.Literal('kernels')]), 'activity', "What idle means: 'activity' (JupyterHub's last_activity) or 'kernels' (ask the server: a busy kernel keeps it; an idle open tab does not)."),
  },
  closed,
);

/** `activity_log:` — the events table behind the activity reports. */
export const ActivityLogSection = Type.Object(
  {
    enabled: Bool(true, 'Record logins, spawns, stops, culls and activity ticks in the database.'),
    retention_days: Num(180, 'Delete events older than this many days; 0 = keep forever.'),
    tick_minutes: Num(5, 'Grain of the per-user activity ticks, in minutes.', 1),
  },
  closed,
);

export type CullerConfig = Required<Static<typeof CullerSection>>;
export type ActivityLogConfig = Required<Static<typeof ActivityLogSection>>;
export type HubConfig = Required<Static<typeof HubSection>>;
export type ProxyConfig = Required<Static<typeof ProxySection>>;
type CommonOf<T extends Record<string, TSchema>> = Required<Static<ReturnType<typeof Type.Object<T>>>>;
export type AuthenticatorConfig = CommonOf<typeof AuthenticatorCommon> & Record<string, unknown>;
export type SpawnerConfig = CommonOf<typeof SpawnerCommon> & Record<string, unknown>;

/** The validated, defaulted configuration of a whole hub. */
export interface TshubConfig {
  hub: HubConfig;
  authenticator: AuthenticatorConfig;
  spawner: SpawnerConfig;
  proxy: ProxyConfig;
  load_roles: RoleConfig[];
  services: ServiceConfig[];
  culler: CullerConfig;
  activity_log: ActivityLogConfig;
}

/** The composed JSON Schema of a config file, given the chosen plugins' own options. */
export function composeSchema(authenticatorProps: Record<string, unknown>, spawnerProps: Record<string, unknown>): TSchema {
  // Plugin options are plain JSON Schema; every one of them is optional.
  const optional = (props: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(Type.Unsafe(v as object))]));
  authenticatorProps = optional(authenticatorProps);
  spawnerProps = optional(spawnerProps);
  return Type.Object(
    {
      hub: opt(HubSection, {}, 'JupyterHub.* options.'),
      authenticator: opt(Type.Object({ ...AuthenticatorCommon, ...(authenticatorProps as Record<string, TSchema>) }, closed), {}, 'Authenticator.* options plus the chosen kind\'s.'),
      spawner: opt(Type.Object({ ...SpawnerCommon, ...(spawnerProps as Record<string, TSchema>) }, closed), {}, 'Spawner.* options plus the chosen kind\'s.'),
      proxy: opt(ProxySection, {}, 'ConfigurableHTTPProxy.* options.'),
      load_roles: opt(Type.Array(RoleEntry), [], 'Roles to create or update at start-up (JupyterHub.load_roles).'),
      services: opt(Type.Array(ServiceEntry), [], 'Services: external (url) or managed (command) (JupyterHub.services).'),
      culler: opt(CullerSection, {}, 'The built-in idle culler.'),
      activity_log: opt(ActivityLogSection, {}, 'The activity log (events) and its retention.'),
    },
    closed,
  );
}
