import { urlEscapePath } from '../url-escape.js';
import type { ServiceRecord } from './service-registry.js';

/** Variables a managed service inherits from the hub's environment (LocalProcessSpawner's env_keep). */
export const SERVICE_ENV_KEEP = ['PATH', 'PYTHONPATH', 'CONDA_ROOT', 'CONDA_DEFAULT_ENV', 'VIRTUAL_ENV', 'LANG', 'LC_ALL', 'LD_LIBRARY_PATH'];

export interface ServiceEnvInput {
  service: ServiceRecord;
  apiToken: string;
  hubApiUrl: string;
  baseUrl: string;
  /** The public origin when public_url is set, else ''. */
  publicOrigin: string;
  hubPrefix: string;
  hubEnv: Readonly<Record<string, string | undefined>>;
  /** The system account the service runs as, for HOME/USER/SHELL. */
  account?: { name: string; home: string; shell: string } | null;
}

/**
 * The environment of a managed service, as JupyterHub's `_ServiceSpawner` builds it: the spawner
 * environment without JUPYTERHUB_ACTIVITY_URL, plus JUPYTERHUB_SERVICE_NAME, the service's url and
 * prefix (only when it has a url), and the spec's `environment` applied last. Pure.
 */
export function buildServiceEnv(i: ServiceEnvInput): Record<string, string> {
  const s = i.service;
  const env: Record<string, string> = {};
  for (const key of SERVICE_ENV_KEEP) {
    const v = i.hubEnv[key];
    if (v !== undefined) env[key] = v;
  }
  const accessScopes = JSON.stringify(['access:services', `access:services!service=${s.name}`]);
  Object.assign(env, {
    JUPYTERHUB_SERVICE_NAME: s.name,
    JUPYTERHUB_API_TOKEN: i.apiToken,
    JPY_API_TOKEN: i.apiToken,
    JUPYTERHUB_CLIENT_ID: s.oauth?.clientId ?? `service-${s.name}`,
    JUPYTERHUB_API_URL: i.hubApiUrl,
    JUPYTERHUB_BASE_URL: i.baseUrl,
    JUPYTERHUB_HOST: '',
    JUPYTERHUB_OAUTH_CALLBACK_URL: s.oauth?.redirectUri ?? `${i.baseUrl}services/${urlEscapePath(s.name)}/oauth_callback`,
    JUPYTERHUB_OAUTH_ACCESS_SCOPES: accessScopes,
    JUPYTERHUB_OAUTH_SCOPES: accessScopes,
    JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES: JSON.stringify(s.oauth?.allowedScopes ?? []),
    JUPYTERHUB_USER: s.user,
    JUPYTERHUB_SERVER_NAME: '',
    JUPYTERHUB_PUBLIC_URL: i.publicOrigin ? i.publicOrigin + i.baseUrl : '',
    JUPYTERHUB_PUBLIC_HUB_URL: i.publicOrigin ? i.publicOrigin + i.hubPrefix : '',
    JUPYTERHUB_COOKIE_HOST_PREFIX_ENABLED: '0',
  });
  if (s.url) {
    env.JUPYTERHUB_SERVICE_URL = s.url;
    env.JUPYTERHUB_SERVICE_PREFIX = s.prefix;
  }
  if (i.account) Object.assign(env, { HOME: i.account.home, USER: i.account.name, SHELL: i.account.shell });
  Object.assign(env, s.environment);
  return env;
}
