import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import type { DockerTestRun } from './docker-cleanup.js';
import { testImageSpawnerConfig } from './docker-test-image.js';
import { freePort } from './free-port.js';
import type { TestHub } from './test-hub.js';

export interface DockerHubOptions {
  kind?: 'docker' | 'system-user-docker';
  /** Spawner options merged over the test image's fragment. */
  spawner?: Record<string, unknown>;
  hub?: Record<string, unknown>;
}

export interface DockerTestHub extends TestHub {
  /** An admin API token (user `admin`). */
  token: string;
  /** Restarts the hub on the same data and ports with these spawner options merged over the first ones. */
  reconfigure(spawner: Record<string, unknown>): Promise<void>;
  /** Calls the hub API through the proxy with the admin token. */
  api(method: string, route: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/**
 * A real hub and proxy whose spawner is a docker kind running the test image, every container and
 * volume labelled with the run's id. (startTestHub adds the process spawners' home_dir_template and
 * log_dir to every spawner section, which the docker kinds rightly refuse; so this builds its own.)
 */
export async function startDockerTestHub(t: Test, run: DockerTestRun, opts: DockerHubOptions = {}): Promise<DockerTestHub> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-docker-test-'));
  const [publicPort, apiPort] = [await freePort(), await freePort()];
  const token = randomBytes(16).toString('hex');
  const extra = (opts.spawner?.extra_create_kwargs ?? {}) as Record<string, unknown>;
  const raw = {
    hub: { bind_url: `http://127.0.0.1:${publicPort}`, hub_ip: '127.0.0.1', data_dir: dataDir, db_url: `pglite:${path.join(dataDir, 'db')}`, last_activity_interval: 0, api_tokens: { [token]: 'admin' }, ...opts.hub },
    authenticator: { kind: 'dummy', allow_all: true, admin_users: ['admin'] },
    spawner: {
      kind: opts.kind ?? 'docker',
      ...testImageSpawnerConfig(),
      // A shared two-core CI machine can take long to boot a Python server; the suites assert on
      // outcomes, not on speed.
      start_timeout: 120,
      http_timeout: 120,
      ...opts.spawner,
      extra_create_kwargs: { ...extra, Labels: { ...(extra.Labels as object | undefined), ...run.labels } },
    },
    proxy: { api_url: `http://127.0.0.1:${apiPort}`, log_level: 'warn' },
  };
  const validate = (r: typeof raw) => {
    const result = validateConfig(r, defaultRegistry());
    if (!result.ok) throw new Error('test config invalid: ' + result.errors.join('; '));
    return result.config;
  };
  let config = validate(raw);
  const logger = pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' });
  const state = { token, dataDir, publicUrl: `http://127.0.0.1:${publicPort}` } as DockerTestHub;
  let stopped = false;
  t.teardown(async () => {
    if (state.hub) await state.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const boot = async () => {
    state.hub = await buildHub({ config: structuredClone(config), logger });
    state.started = await state.hub.start({ hubPort: 0 });
    state.hubUrl = state.started.hubUrl;
  };
  await boot();
  Object.assign(state, {
    async restart(whileDown?: () => Promise<void>) {
      await state.hub.close();
      await whileDown?.();
      await boot();
    },
    async reconfigure(spawner: Record<string, unknown>) {
      config = validate({ ...raw, spawner: { ...raw.spawner, ...spawner } });
      await state.hub.close();
      await boot();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all([...state.hub.ctx.servers.all].map((rt) => state.hub.ctx.servers.stop(rt, { now: true })));
      await state.hub.close();
    },
    async api(method: string, route: string, body?: unknown) {
      const res = await fetch(`${state.publicUrl}/hub/api${route}`, {
        method,
        headers: { authorization: `token ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  });
  return state;
}

/** Polls `check` every 100 ms until it returns a truthy value or `ms` pass; returns the last value. */
export async function waitFor<T>(check: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
