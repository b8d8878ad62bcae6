/**
 * A hand-built SpawnContext for tests of this package (and of anything driving these spawners without a hub).
 * Shipped on purpose: it is small and documents what the hub must provide.
 */
import type { JsonObject, PluginLogger, SpawnContext, SpawnerCommonConfig } from '@tshub/plugin-api';

/** JupyterHub's Spawner defaults, with port 0 (pick a free one). */
export const defaultCommonConfig: SpawnerCommonConfig = {
  cmd: ['jupyterhub-singleuser'],
  args: [],
  default_url: '',
  notebook_dir: '',
  environment: {},
  env_keep: ['PATH', 'PYTHONPATH', 'LANG', 'LC_ALL'],
  ip: '127.0.0.1',
  port: 0,
  start_timeout: 60,
  http_timeout: 30,
  poll_interval: 30,
  mem_limit: null,
  mem_guarantee: null,
  cpu_limit: null,
  cpu_guarantee: null,
};

/** A logger that keeps every record, so tests can assert on warnings. */
export function recordingLogger(): PluginLogger & { records: { level: string; obj: object | string; msg?: string }[] } {
  const records: { level: string; obj: object | string; msg?: string }[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void records.push({ level, obj, msg });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** What {@link makeSpawnContext} lets a test choose; everything else gets a sensible default. */
export interface FixtureOptions<C> {
  user?: string;
  serverName?: string;
  state?: JsonObject;
  config: C;
  common?: Partial<SpawnerCommonConfig>;
  env?: Record<string, string>;
  log?: PluginLogger;
}

/** Builds a context the way the hub would for `user`'s server, with PATH kept and a prefix of /user/<name>/. */
export function makeSpawnContext<C>(opts: FixtureOptions<C>): SpawnContext<C> {
  const name = opts.user ?? 'alice';
  const serverName = opts.serverName ?? '';
  const servicePrefix = `/user/${encodeURIComponent(name)}/${serverName === '' ? '' : `${encodeURIComponent(serverName)}/`}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    JUPYTERHUB_USER: name,
    JUPYTERHUB_SERVER_NAME: serverName,
    JUPYTERHUB_SERVICE_PREFIX: servicePrefix,
    JUPYTERHUB_API_TOKEN: 'test-token',
    ...opts.env,
  };
  return {
    user: { name, admin: false, groups: [], authState: null },
    serverName,
    shared: undefined,
    state: opts.state ?? {},
    userOptions: {},
    env,
    servicePrefix,
    common: { ...defaultCommonConfig, ...opts.common },
    config: opts.config,
    log: opts.log ?? recordingLogger(),
  };
}
