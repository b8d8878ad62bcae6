import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig, type Hub, type StartedHub } from '@tshub/hub';
import { freePort } from './free-port.js';
import { createTestDatabase } from './test-database.js';
import { postgresUrl } from './requirements.js';

export type DbKind = 'pglite' | 'postgres';

type ConfigSection = Record<string, unknown>;

export interface TestHubOptions {
  db?: DbKind;
  /** Raw config sections, merged over the test defaults (dummy auth, real singleuser); `load_roles` and `services` are passed through. */
  config?: { hub?: ConfigSection; authenticator?: ConfigSection; spawner?: ConfigSection; proxy?: ConfigSection; load_roles?: ConfigSection[]; services?: ConfigSection[]; culler?: ConfigSection; activity_log?: ConfigSection };
}

/** A real hub (real proxy, real database) on free ports, restartable, torn down with the test. */
export interface TestHub {
  hub: Hub;
  started: StartedHub;
  /** The proxy's public URL without trailing slash, e.g. http://127.0.0.1:40123 */
  publicUrl: string;
  hubUrl: string;
  dataDir: string;
  /**
   * Stops this hub (as configured: servers survive unless cleanup_servers), runs `whileDown`, and
   * starts a new one on the same ports and data.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

const SINGLEUSER_ENV = { JUPYTERHUB_SINGLEUSER_APP: 'notebook.notebookapp.NotebookApp' };

/** Starts a hub for a test and registers its teardown (servers, proxy, database, temp dirs). */
export async function startTestHub(t: Test, opts: TestHubOptions = {}): Promise<TestHub> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-test-'));
  let dbUrl = 'pglite:memory:';
  let dropDb: (() => Promise<void>) | null = null;
  // TSHUB_TEST_DB=postgres runs every hub suite on Postgres instead of the embedded database.
  const db = opts.db ?? (process.env.TSHUB_TEST_DB === 'postgres' ? 'postgres' : 'pglite');
  if (db === 'postgres') {
    const created = await createTestDatabase(postgresUrl());
    dbUrl = created.url;
    dropDb = created.drop;
  } else {
    dbUrl = `pglite:${path.join(dataDir, 'db')}`;
  }
  const c = opts.config ?? {};
  const configFor = (publicPort: number, apiPort: number) => {
    const raw = {
      hub: { bind_url: `http://127.0.0.1:${publicPort}`, hub_ip: '127.0.0.1', data_dir: dataDir, db_url: dbUrl, last_activity_interval: 0, ...c.hub },
      authenticator: { kind: 'dummy', allow_all: true, ...c.authenticator },
      spawner: {
        // Homes and logs under the test's data dir, for the process kinds that have these options.
        ...(['simple', 'local-process', undefined].includes(c.spawner?.kind as string | undefined)
          ? { home_dir_template: path.join(dataDir, 'homes', '{escaped_username}'), log_dir: path.join(dataDir, 'logs') }
          : {}),
        ...c.spawner,
        environment: { ...SINGLEUSER_ENV, ...(c.spawner?.environment as object | undefined) },
      },
      proxy: { api_url: `http://127.0.0.1:${apiPort}`, log_level: 'warn', ...c.proxy },
      ...(c.load_roles ? { load_roles: c.load_roles } : {}),
      ...(c.services ? { services: c.services } : {}),
      ...(c.culler ? { culler: c.culler } : {}),
      ...(c.activity_log ? { activity_log: c.activity_log } : {}),
    };
    const result = validateConfig(raw, defaultRegistry());
    if (!result.ok) throw new Error('test config invalid: ' + result.errors.join('; '));
    return result.config;
  };
  let publicPort = await freePort();
  let config = configFor(publicPort, await freePort());
  const logger = pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' });

  const state = {} as TestHub;
  // Registered before anything can fail, so a hub that does not boot still leaves nothing behind.
  t.teardown(async () => {
    if (state.hub) await (state.stop ? state.stop() : state.hub.close());
    if (dropDb) await dropDb();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const boot = async () => {
    state.hub = await buildHub({ config: structuredClone(config), logger });
    state.started = await state.hub.start({ hubPort: 0 });
    state.hubUrl = state.started.hubUrl;
  };
  // A free port can be taken by another suite between picking it and the proxy binding it (parallel
  // jobs): pick new ports and boot again, a bounded number of times.
  for (let attempt = 1; ; attempt++) {
    try {
      await boot();
      break;
    } catch (err) {
      if (attempt >= 3 || !/already in use/.test((err as Error).message)) throw err;
      await state.hub?.close().catch(() => undefined);
      publicPort = await freePort();
      config = configFor(publicPort, await freePort());
    }
  }
  let stopped = false;
  Object.assign(state, {
    publicUrl: `http://127.0.0.1:${publicPort}`,
    dataDir,
    async restart(whileDown?: () => Promise<void>) {
      await state.hub.close();
      await whileDown?.();
      await boot();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Whatever the config says, a test leaves no servers behind.
      await Promise.all([...state.hub.ctx.servers.all].map((rt) => state.hub.ctx.servers.stop(rt, { now: true })));
      await state.hub.close();
    },
  });
  return state;
}
