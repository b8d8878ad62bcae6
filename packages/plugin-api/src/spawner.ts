import type { JsonObject, JsonSchema } from './json.js';
import type { PluginLogger } from './logger.js';

/** The result of {@link Spawner.poll}: a tagged union, never a sentinel. */
export type PollResult = { running: true } | { running: false; exitCode?: number };

/** One step of spawn progress, shown on the spawn-pending page's progress bar. */
export interface ProgressEvent {
  /** 0-100. */
  progress: number;
  message: string;
  html_message?: string;
}

/** The user a server belongs to, as the spawner sees them. */
export interface SpawnUser {
  readonly name: string;
  readonly admin: boolean;
  readonly groups: readonly string[];
  /** Decrypted auth_state, or null when auth state is off or empty. */
  readonly authState: JsonObject | null;
}

/**
 * The Spawner options every spawner shares (JupyterHub's `Spawner.*`), already merged from the config
 * file and any group overrides. Times are in seconds, as in JupyterHub's configuration.
 */
export interface SpawnerCommonConfig {
  readonly cmd: readonly string[];
  readonly args: readonly string[];
  readonly default_url: string;
  readonly notebook_dir: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly env_keep: readonly string[];
  readonly ip: string;
  readonly port: number;
  readonly start_timeout: number;
  readonly http_timeout: number;
  readonly poll_interval: number;
  readonly mem_limit: number | null;
  readonly mem_guarantee: number | null;
  readonly cpu_limit: number | null;
  readonly cpu_guarantee: number | null;
}

/**
 * Everything a spawner instance needs, computed by the hub. Read-only: a spawner reports back only
 * through its return values and {@link Spawner.state}.
 */
export interface SpawnContext<C = Record<string, unknown>, S = unknown> {
  readonly user: SpawnUser;
  /** '' for the default server. */
  readonly serverName: string;
  /** The state persisted by an earlier instance ({} for a fresh server). Lets a restarted hub re-adopt. */
  readonly state: JsonObject;
  /** Options the user chose on the spawn form or sent in the API body, already validated. */
  readonly userOptions: JsonObject;
  /**
   * The hub-computed environment: every `JUPYTERHUB_*` variable, `env_keep` copies and
   * `Spawner.environment`, in JupyterHub's precedence. A spawner passes it to the server unchanged.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The URL prefix the server must serve under, e.g. `/user/alice/` (also in env). */
  readonly servicePrefix: string;
  readonly common: SpawnerCommonConfig;
  /** The plugin's own options from the `spawner:` section, validated against its `configSchema`. */
  readonly config: C;
  readonly log: PluginLogger;
  /** What {@link SpawnerPlugin.openShared} returned (one Docker client, one watch cache), or undefined. */
  readonly shared: S;
}

/** Progress of an image pre-pull, per image and node. */
export interface PrePullProgress {
  readonly image: string;
  /** The node pulling (Swarm, Kubernetes), or undefined on a single engine. */
  readonly node?: string;
  /** 0-100 for this image on this node. */
  readonly progress: number;
  readonly message: string;
}

/** The hub-lifetime half of a spawner kind: shared clients and caches, and kind-wide operations. */
export interface SpawnerShared {
  /** Ends watches and connections. Called once when the hub stops. */
  close(): Promise<void>;
  /**
   * Optional: pulls the configured images (on every node) ahead of use. Resolves with one line per image
   * and node; rejects only for a failure of the whole operation.
   */
  prePull?(onProgress: (e: PrePullProgress) => void, signal?: AbortSignal): Promise<{ image: string; node?: string; ok: boolean; message: string }[]>;
  /**
   * Optional: HTML fields for a user's spawn form (allowed_images, profile_list), or null for none
   * (then the common `options_form` applies). Values are escaped by the plugin.
   */
  optionsForm?(user: SpawnUser): string | null | Promise<string | null>;
  /**
   * Optional: validates and normalises user_options from the spawn form (each field a string or a list of
   * strings) or the API body. Throw HubError(400) with a message for the person.
   */
  checkUserOptions?(options: JsonObject, user: SpawnUser): JsonObject | Promise<JsonObject>;
  /**
   * Optional: the image new servers start from, changed at run time (the rolling update). The hub keeps
   * the value across restarts and calls this again at start-up.
   */
  setImage?(image: string | null): void;
  /** Optional: the image a running server was started from, read from its persisted state. */
  imageOf?(state: JsonObject): string | null;
}

/**
 * One user server. The hub creates an instance per (user, server name) and owns the outer pipeline:
 * timeouts, pending flags, progress events, proxy routes, hooks, tokens and metrics. The instance only
 * makes the server exist or not exist.
 */
export interface Spawner {
  /**
   * Starts the server and resolves with the URL where it listens (scheme, host and port; no path),
   * e.g. `http://127.0.0.1:41234`. The hub then waits for HTTP readiness itself; do not wait here.
   * Called once per instance. `signal` aborts when start_timeout passes or the user cancels: stop
   * creating things and throw. Throw {@link SpawnError} for failures the user should read.
   */
  start(signal: AbortSignal): Promise<{ url: string }>;

  /**
   * Stops the server and resolves once it is gone. `now` asks for an immediate kill rather than a
   * graceful shutdown. Must be safe to call after a failed or partial `start`, and more than once.
   */
  stop(opts: { now: boolean }): Promise<void>;

  /**
   * Whether the server is still running. Called every poll_interval while it runs, during a pending
   * start to notice early exits, and on hub start-up for instances rebuilt from persisted state.
   * Must be cheap: no waiting, no retries.
   */
  poll(): Promise<PollResult>;

  /**
   * JSON the hub persists after `start` resolves and after each poll; handed back as
   * {@link SpawnContext.state} to a later instance (for example after a hub restart).
   */
  state(): JsonObject;

  /** Optional progress events while `start` runs. The iterator ends when `start` settles. */
  progress?(): AsyncIterable<ProgressEvent>;

  /** Optional: remove everything kept for this server (volumes, homes). Called when a named server or user is deleted. */
  deleteForever?(): Promise<void>;
}

/** A spawner kind, registered under a short name (`kind:` in the `spawner:` config section). */
export interface SpawnerPlugin<C = Record<string, unknown>, S extends SpawnerShared | undefined = any> {
  readonly kind: string;
  /** JSON Schema for the options this kind adds to the `spawner:` section (properties only). */
  readonly configSchema: JsonSchema;
  /**
   * Optional: opens the hub-lifetime resources once, when the hub is built (before any create). Throw a
   * HubError naming the key path for a configuration that cannot work (bad mem_limit, no engine).
   */
  openShared?(ctx: { config: C; common: SpawnerCommonConfig; log: PluginLogger }): Promise<S>;
  /** Creates the instance for one server. Must not do I/O; `start` or `poll` does. */
  create(ctx: SpawnContext<C, S>): Spawner;
}
