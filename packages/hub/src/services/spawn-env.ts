import { formatTemplate, escapeUsername } from '@tshub/plugin-api';
import { urlEscapePath } from '../url-escape.js';

export interface SpawnEnvInput {
  user: string;
  server: string;
  /** The server's API token (also its OAuth client secret). */
  apiToken: string;
  /** e.g. http://127.0.0.1:8081/hub/api */
  hubApiUrl: string;
  baseUrl: string;
  /** e.g. /user/alice/ */
  servicePrefix: string;
  /** The server's public URL: servicePrefix, or http://alice.hub.example/user/alice/ with subdomain_host. */
  serverUrl?: string;
  clientId: string;
  /** '' unless the hub is served from a separate public origin (public_url, subdomain_host). */
  hubHost: string;
  publicUrl: string;
  publicHubUrl: string;
  adminAccess: boolean;
  defaultUrl: string;
  notebookDir: string;
  envKeep: readonly string[];
  hubEnv: Readonly<Record<string, string | undefined>>;
  environment: Readonly<Record<string, string>>;
  memLimit: number | null;
  memGuarantee: number | null;
  cpuLimit: number | null;
  cpuGuarantee: number | null;
}

/**
 * The environment of a user server, as JupyterHub's `Spawner.get_env` builds it: env_keep copies
 * first, then every JUPYTERHUB_* variable, then `Spawner.environment` last. (JUPYTERHUB_SERVICE_URL
 * needs the port, so the spawner adds it.) Pure: table-tested.
 */
export function buildSpawnEnv(i: SpawnEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of i.envKeep) {
    const v = i.hubEnv[key];
    if (v !== undefined) env[key] = v;
  }
  const names = { username: i.user, servername: i.server, escaped_username: escapeUsername(i.user), escaped_servername: escapeUsername(i.server) };
  const accessScopes = JSON.stringify([`access:servers!server=${i.user}/${i.server}`, `access:servers!user=${i.user}`]);
  Object.assign(env, {
    JUPYTERHUB_API_TOKEN: i.apiToken,
    JPY_API_TOKEN: i.apiToken,
    JUPYTERHUB_CLIENT_ID: i.clientId,
    JUPYTERHUB_API_URL: i.hubApiUrl,
    JUPYTERHUB_ACTIVITY_URL: `${i.hubApiUrl}/users/${urlEscapePath(i.user)}/activity`,
    JUPYTERHUB_BASE_URL: i.baseUrl,
    JUPYTERHUB_SERVICE_PREFIX: i.servicePrefix,
    JUPYTERHUB_HOST: i.hubHost,
    JUPYTERHUB_OAUTH_CALLBACK_URL: `${i.serverUrl ?? i.servicePrefix}oauth_callback`,
    JUPYTERHUB_OAUTH_ACCESS_SCOPES: accessScopes,
    JUPYTERHUB_OAUTH_SCOPES: accessScopes,
    JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES: '[]',
    JUPYTERHUB_USER: i.user,
    JUPYTERHUB_SERVER_NAME: i.server,
    JUPYTERHUB_PUBLIC_URL: i.publicUrl,
    JUPYTERHUB_PUBLIC_HUB_URL: i.publicHubUrl,
    JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED: '0',
  });
  if (i.adminAccess) env.JUPYTERHUB_ADMIN_ACCESS = '1';
  if (i.notebookDir) env.JUPYTERHUB_ROOT_DIR = formatTemplate(i.notebookDir, names);
  if (i.defaultUrl) env.JUPYTERHUB_DEFAULT_URL = formatTemplate(i.defaultUrl, names);
  if (i.memLimit) env.MEM_LIMIT = String(i.memLimit);
  if (i.memGuarantee) env.MEM_GUARANTEE = String(i.memGuarantee);
  if (i.cpuLimit) env.CPU_LIMIT = String(i.cpuLimit);
  if (i.cpuGuarantee) env.CPU_GUARANTEE = String(i.cpuGuarantee);
  Object.assign(env, i.environment);
  return env;
}

/** Parses JupyterHub byte sizes: a number, or '512M', '2G', '1.5T'. */
export function parseByteSize(v: string | number | null): number | null {
  if (v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : null;
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([KMGT]?)$/.exec(v);
  if (!m) return null;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.floor(Number(m[1]) * mult);
}
