import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { pino } from 'pino';
import type { JsonObject, PrePullProgress, Spawner, SpawnerPlugin, SpawnerShared } from '@tshub/plugin-api';
import { buildHub, defaultRegistry, validateConfig, type Hub, type StartedHub } from '@tshub/hub';
import { freePort } from './free-port.js';

/**
 * A spawner kind whose "servers" are tiny HTTP servers in the test process (answering 200 under their
 * prefix), each remembering the image it was started from, and whose pre-pull pretends to pull on a
 * list of nodes. It implements SpawnerShared.prePull/setImage/imageOf, so hub-level image code
 * (pre-pull API, rolling update) is tested without an engine. `events` records starts and stops
 * with the number of servers running, so a test can check batching.
 */
export interface FakeImageConfig {
  image?: string;
  nodes?: string[];
  /** Images whose pre-pull fails on every node. */
  missing_images?: string[];
  /** How long each fake pull step takes. */
  pull_step_ms?: number;
  /** Extra images pre-pulled besides the current one. */
  extra_images?: string[];
  /** How long a start takes (a rollout in progress can then be observed). */
  start_ms?: number;
  /** Pre-pulls wait for {@link FakeImageShared.releasePull} before they begin (the test sees them running). */
  hold_pull?: boolean;
}

export interface FakeEvent {
  kind: 'start' | 'stop';
  user: string;
  image: string;
  /** Servers up right after this event. */
  running: number;
}

export class FakeImageShared implements SpawnerShared {
  override: string | null = null;
  readonly events: FakeEvent[] = [];
  running = 0;
  #release!: () => void;
  readonly #held = new Promise<void>((r) => (this.#release = r));
  constructor(readonly config: FakeImageConfig) {}

  /** Lets held pre-pulls proceed. */
  releasePull(): void {
    this.#release();
  }

  current(): string {
    return this.override ?? this.config.image ?? 'fake/notebook:1';
  }
  setImage(image: string | null): void {
    this.override = image;
  }
  imageOf(state: JsonObject): string | null {
    return typeof state.image === 'string' ? state.image : null;
  }
  async prePull(onProgress: (e: PrePullProgress) => void) {
    const step = this.config.pull_step_ms ?? 20;
    const out: { image: string; node?: string; ok: boolean; message: string }[] = [];
    for (const image of [this.current(), ...(this.config.extra_images ?? [])]) {
      for (const node of this.config.nodes ?? ['node-1', 'node-2']) {
        const missing = (this.config.missing_images ?? []).includes(image);
        onProgress({ image, node, progress: 0, message: 'pulling' });
        if (this.config.hold_pull) await this.#held;
        await new Promise((r) => setTimeout(r, step).unref());
        onProgress({ image, node, progress: 50, message: 'pulling' });
        await new Promise((r) => setTimeout(r, step).unref());
        out.push({ image, node, ok: !missing, message: missing ? `pull failed: manifest for ${image} not found` : 'pulled' });
      }
    }
    return out;
  }
  async close(): Promise<void> {}
}

/** Every fake server still listening, whichever hub started it: closed in the test's teardown. */
const openServers = new Set<http.Server>();

class FakeImageServer implements Spawner {
  #server: http.Server | null = null;
  #image: string | null;
  constructor(private readonly shared: FakeImageShared, private readonly user: string, private readonly state0: JsonObject) {
    this.#image = typeof state0.image === 'string' ? state0.image : null;
  }
  async start(): Promise<{ url: string }> {
    const image = this.shared.current();
    if (this.shared.config.start_ms) await new Promise((r) => setTimeout(r, this.shared.config.start_ms).unref());
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ image })));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    openServers.add(server);
    this.#server = server;
    this.#image = image;
    this.shared.running++;
    this.shared.events.push({ kind: 'start', user: this.user, image, running: this.shared.running });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    openServers.delete(server);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    this.shared.running--;
    this.shared.events.push({ kind: 'stop', user: this.user, image: this.#image ?? '', running: this.shared.running });
  }
  async poll() {
    return this.#server ? { running: true as const } : { running: false };
  }
  state(): JsonObject {
    return this.#image ? { image: this.#image } : {};
  }
}

export const fakeImageSpawner: SpawnerPlugin<FakeImageConfig, FakeImageShared> = {
  kind: 'fake-image',
  configSchema: {
    type: 'object',
    properties: {
      image: { type: 'string' },
      nodes: { type: 'array', items: { type: 'string' } },
      missing_images: { type: 'array', items: { type: 'string' } },
      extra_images: { type: 'array', items: { type: 'string' } },
      pull_step_ms: { type: 'number' },
      start_ms: { type: 'number' },
      hold_pull: { type: 'boolean' },
    },
  },
  openShared: async ({ config }) => new FakeImageShared(config),
  create: (ctx) => new FakeImageServer(ctx.shared, ctx.user.name, ctx.state),
};

export interface KindHub {
  hub: Hub;
  started: StartedHub;
  /** The proxy's public URL without trailing slash. */
  publicUrl: string;
  /** Closes this hub (servers survive unless cleanup_servers) and starts a new one on the same ports and data. */
  restart(): Promise<void>;
}

/**
 * A real hub (real proxy, PGlite in a temp dir) for a spawner kind the default test hub cannot run:
 * a kind not in the default registry (this file's fake) or one without the simple spawner's
 * home_dir_template/log_dir options (swarm). Torn down with the test, every server stopped.
 */
export async function startKindHub(t: Test, config: { hub?: Record<string, unknown>; authenticator?: Record<string, unknown>; spawner: Record<string, unknown> }): Promise<KindHub> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'tshub-kind-'));
  const [publicPort, apiPort] = [await freePort(), await freePort()];
  const registry = defaultRegistry({ spawners: [fakeImageSpawner] });
  const raw = {
    hub: { bind_url: `http://127.0.0.1:${publicPort}`, hub_ip: '127.0.0.1', data_dir: dataDir, db_url: `pglite:${path.join(dataDir, 'db')}`, last_activity_interval: 0, ...config.hub },
    authenticator: { kind: 'dummy', allow_all: true, ...config.authenticator },
    spawner: config.spawner,
    proxy: { api_url: `http://127.0.0.1:${apiPort}`, log_level: 'warn' },
  };
  const result = validateConfig(raw, registry);
  if (!result.ok) throw new Error('test config invalid: ' + result.errors.join('; '));
  const logger = pino({ level: process.env.TSHUB_TEST_LOG ?? 'silent' });
  const state = { publicUrl: `http://127.0.0.1:${publicPort}` } as KindHub;
  let closed = true;
  const boot = async () => {
    state.hub = await buildHub({ config: structuredClone(result.config), logger, registry });
    closed = false;
    state.started = await state.hub.start({ hubPort: 0 });
  };
  t.teardown(async () => {
    if (!closed) {
      await Promise.all([...state.hub.ctx.servers.all].map((rt) => state.hub.ctx.servers.stop(rt, { now: true })));
      await state.hub.close();
    }
    // Servers a hub restart left behind (cleanup_servers false) are no hub's any more.
    for (const server of openServers) server.closeAllConnections(), server.close();
    openServers.clear();
    rmSync(dataDir, { recursive: true, force: true });
  });
  state.restart = async () => {
    closed = true;
    await state.hub.close();
    await boot();
  };
  await boot();
  return state;
}
