import type { PrePullProgress } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';

/** One image on one node ('' on a single engine), as GET /hub/api/images/pre-pull shows it. */
export interface PrePullLine {
  image: string;
  node: string;
  progress: number;
  message: string;
  /** Set once this image is settled on this node. */
  ok?: boolean;
}

export interface PrePullStatus {
  state: 'idle' | 'running' | 'done' | 'failed';
  trigger?: 'start' | 'api';
  started?: string;
  finished?: string;
  /** Lines that ended not ok (or the whole operation's error). */
  failures: number;
  lines: PrePullLine[];
  error?: string;
}

/**
 * The hub's image pre-pull: at most one at a time, run in the background through the spawner kind's
 * SpawnerShared.prePull, with its per-image, per-node progress kept for the API.
 */
export class ImagePrePull {
  readonly #hub: HubContext;
  #status: PrePullStatus = { state: 'idle', failures: 0, lines: [] };
  #run: Promise<void> | null = null;
  readonly #abort = new AbortController();

  constructor(hub: HubContext) {
    this.#hub = hub;
  }

  /** Whether the spawner kind can pre-pull at all. */
  get supported(): boolean {
    return typeof this.#hub.servers.deps.shared?.prePull === 'function';
  }

  status(): PrePullStatus {
    return { ...this.#status, lines: this.#status.lines.map((l) => ({ ...l })) };
  }

  /** Starts a pre-pull unless one is running (then that one is the answer). Resolves at once. */
  start(trigger: 'start' | 'api'): PrePullStatus {
    const shared = this.#hub.servers.deps.shared;
    if (!shared?.prePull || this.#status.state === 'running') return this.status();
    const log = this.#hub.log.child({ component: 'pre-pull' });
    const status: PrePullStatus = { state: 'running', trigger, started: new Date().toISOString(), failures: 0, lines: [] };
    this.#status = status;
    const lineFor = (image: string, node = '') => {
      let line = status.lines.find((l) => l.image === image && l.node === node);
      if (!line) status.lines.push((line = { image, node, progress: 0, message: 'waiting' }));
      return line;
    };
    const onProgress = (e: PrePullProgress) => {
      const line = lineFor(e.image, e.node);
      line.progress = e.progress;
      line.message = e.message;
      log.debug({ image: e.image, node: e.node, progress: e.progress }, e.message);
    };
    log.info({ trigger }, 'pre-pulling images');
    this.#run = shared
      .prePull(onProgress, this.#abort.signal)
      .then((results) => {
        for (const r of results) Object.assign(lineFor(r.image, r.node), { ok: r.ok, message: r.message, progress: 100 });
        status.failures = results.filter((r) => !r.ok).length;
        status.state = status.failures ? 'failed' : 'done';
        for (const r of results.filter((x) => !x.ok)) log.warn({ image: r.image, node: r.node }, `pre-pull failed: ${r.message}`);
        log.info({ images: new Set(results.map((r) => r.image)).size, lines: results.length, failures: status.failures }, 'pre-pull finished');
      })
      .catch((err: unknown) => {
        status.state = 'failed';
        status.failures += 1;
        status.error = err instanceof Error ? err.message : String(err);
        log.warn({ err: status.error }, 'pre-pull failed');
      })
      .finally(() => {
        status.finished = new Date().toISOString();
      });
    return this.status();
  }

  /** Settles when the current pre-pull (if any) has finished. */
  async settled(): Promise<void> {
    await this.#run;
  }

  /** Cancels a running pre-pull (hub shutdown). */
  cancel(): void {
    this.#abort.abort(new Error('hub stopping'));
  }
}

const byHub = new WeakMap<HubContext, ImagePrePull>();

/** The pre-pull of a hub (one per hub, shared by the start-up call and the API). */
export function imagePrePull(hub: HubContext): ImagePrePull {
  let p = byHub.get(hub);
  if (!p) byHub.set(hub, (p = new ImagePrePull(hub)));
  return p;
}

/**
 * Called once the hub listens: starts the pre-pull in the background when hub.pre_pull_on_start is on
 * and the spawner kind can pre-pull. Never delays start-up; progress goes to the log and the API.
 */
export function prePullOnStart(hub: HubContext): void {
  const p = imagePrePull(hub);
  if (hub.config.hub.pre_pull_on_start && p.supported) p.start('start');
}
