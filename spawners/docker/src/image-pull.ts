/** Making sure an image is on the engine, per pull_policy, with pull progress as percentages. */
import { SpawnError, type PluginLogger } from '@tshub/plugin-api';
import type Docker from 'dockerode';
import type { PullPolicy } from './config.js';
import { engineMessage } from './docker-errors.js';

/** One line of the engine's pull stream (JSON messages of POST /images/create). */
export interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
}

/**
 * Folds pull events into one percentage: bytes downloaded over bytes known, per layer; a layer that
 * says "Pull complete" or "Already exists" counts as done. Pure, so it is unit-tested with canned events.
 */
export class PullProgress {
  readonly #layers = new Map<string, { current: number; total: number; done: boolean }>();

  add(e: PullEvent): void {
    if (!e.id || !e.status || e.id === 'latest' || /^Pulling from /.test(e.status)) return;
    const layer = this.#layers.get(e.id) ?? { current: 0, total: 0, done: false };
    if (/^(Pull complete|Already exists|Download complete)$/.test(e.status)) layer.done = true;
    else if (e.status === 'Downloading' && e.progressDetail?.total) {
      layer.current = e.progressDetail.current ?? 0;
      layer.total = e.progressDetail.total;
    }
    this.#layers.set(e.id, layer);
  }

  /** 0-100 over the layers seen so far. */
  get percent(): number {
    let sum = 0;
    for (const l of this.#layers.values()) sum += l.done ? 1 : l.total > 0 ? Math.min(1, l.current / l.total) : 0;
    return this.#layers.size === 0 ? 0 : Math.floor((100 * sum) / this.#layers.size);
  }

  get summary(): string {
    const done = [...this.#layers.values()].filter((l) => l.done).length;
    return `${this.percent}% (${done} of ${this.#layers.size} layers)`;
  }
}

/** Whether the engine has the image (by name or id). */
export async function imagePresent(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Pulls `image`, reporting 0-100. Rejects with the engine's message; aborting destroys the stream. */
export async function pullImage(docker: Docker, image: string, onProgress: (percent: number, summary: string) => void, signal?: AbortSignal): Promise<void> {
  // A bare name means :latest to the engine; say so, or it pulls every tag.
  const ref = /:[^/]+$|@/.test(image) ? image : `${image}:latest`;
  const stream = (await docker.pull(ref)) as NodeJS.ReadableStream & { destroy?: (e?: Error) => void };
  const progress = new PullProgress();
  let last = -1;
  await new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      stream.destroy?.(new Error('pull cancelled'));
      reject(signal?.reason ?? new Error('pull cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: PullEvent[]) => {
        signal?.removeEventListener('abort', onAbort);
        const failed = err?.message ?? events?.find((e) => e.error)?.error;
        if (failed) reject(new Error(failed));
        else resolve();
      },
      (e: PullEvent) => {
        progress.add(e);
        if (progress.percent !== last) {
          last = progress.percent;
          onProgress(progress.percent, progress.summary);
        }
      },
    );
  });
}

const notFound = (msg: string) => /not found|manifest unknown|pull access denied|does not exist|repository .* not found/i.test(msg);

/**
 * Makes sure `image` is on the engine as `policy` says. Throws SpawnError('image-missing') when it is
 * absent and may not or cannot be pulled, SpawnError('image-pull-failed') when a pull fails otherwise.
 */
export async function ensureImage(
  docker: Docker,
  image: string,
  policy: PullPolicy,
  opts: { log: PluginLogger; onProgress: (percent: number, summary: string) => void; signal?: AbortSignal },
): Promise<void> {
  const present = policy === 'always' ? null : await imagePresent(docker, image);
  if (present) return;
  if (policy === 'never') {
    throw new SpawnError('image-missing', `The image ${image} is not on this Docker engine and pull_policy is 'never'. An administrator must pull or load it first.`, { status: 400 });
  }
  try {
    await pullImage(docker, image, opts.onProgress, opts.signal);
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const msg = engineMessage(err);
    // With 'always', a registry that cannot be reached should not stop a class whose image is already here.
    if (policy === 'always' && (await imagePresent(docker, image).catch(() => false))) {
      opts.log.warn({ image, err: msg }, 'pull failed; using the image already on the engine');
      return;
    }
    if (notFound(msg)) throw new SpawnError('image-missing', `The image ${image} could not be found: ${msg}`, { status: 400 });
    throw new SpawnError('image-pull-failed', `Pulling the image ${image} failed: ${msg}`);
  }
}
