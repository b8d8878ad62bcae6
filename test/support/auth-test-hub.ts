import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { pino } from 'pino';
import type { AuthenticatorPlugin, SpawnerPlugin } from '@tshub/plugin-api';
import { buildHub, defaultRegistry, validateConfig, type Hub, type TshubConfig } from '@tshub/hub';
import { freePort } from './free-port.js';

type Section = Record<string, unknown>;

export interface AuthHubOptions {
  authenticator: Section;
  spawner?: Section;
  hub?: Section;
  /** Extra plugins (fakes) registered next to the built-in kinds. */
  authenticators?: AuthenticatorPlugin[];
  spawners?: SpawnerPlugin[];
  /** The hub's environment (JUPYTERHUB_CRYPT_KEY). */
  env?: NodeJS.ProcessEnv;
  /** Reuse a data directory (restart with other keys); default: a fresh one removed at teardown. */
  dataDir?: string;
}

export interface AuthHub {
  hub: Hub;
  /** The proxy's public URL without trailing slash. */
  publicUrl: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A temp data directory removed when `t` ends. */
export function authDataDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Validates a config as the CLI does (functions such as post_auth_hook included); throws on problems. */
export function authConfig(opts: AuthHubOptions, dataDir: string, ports: { publicPort: number; apiPort: number }): TshubConfig {
  const registry = defaultRegistry({ authenticators: opts.authenticators ?? [], spawners: opts.spawners ?? [] });
  const raw = {
    hub: { bind_url: `http://127.0.0.1:${ports.publicPort}`, data_dir: dataDir, db_url: `pglite:${path.join(dataDir, 'db')}`, last_activity_interval: 0, ...opts.hub },
    authenticator: opts.authenticator,
    spawner: { kind: 'recording', ...opts.spawner },
    proxy: { api_url: `http://127.0.0.1:${ports.apiPort}`, log_level: 'warn' },
  };
  const result = validateConfig(raw, registry);
  if (!result.ok) throw new Error('test config invalid: ' + result.errors.join('; '));
  return result.config;
}

/**
 * A real hub (embedded database, real configurable-http-proxy) with fake plugins, torn down with `t`.
 * Unlike startTestHub it takes a registry and an environment, which the auth pipeline tests need.
 */
export async function startAuthHub(t: Test, opts: AuthHubOptions): Promise<AuthHub> {
  const dataDir = opts.dataDir ?? authDataDir(t);
  const [publicPort, apiPort] = [await freePort(), await freePort()];
  const config = authConfig(opts, dataDir, { publicPort, apiPort });
  const registry = defaultRegistry({ authenticators: opts.authenticators ?? [], spawners: opts.spawners ?? [] });
  const logger = pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' });
  const hub = await buildHub({ config, registry, logger, env: opts.env ?? {} });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all([...hub.ctx.servers.all].map((rt) => hub.ctx.servers.stop(rt, { now: true })));
    await hub.close();
  };
  t.teardown(close);
  await hub.start({ hubPort: 0 });
  return { hub, publicUrl: `http://127.0.0.1:${publicPort}`, dataDir, close };
}
