import type { ProgressEvent } from './spawner.js';

/**
 * The progress events of one start, for spawners to return from `progress()`: `start` pushes, the hub
 * reads. Events pushed before the reader arrives are kept; `end()` (start settled) finishes the
 * iteration once the buffer is drained. One reader.
 */
export class ProgressQueue implements AsyncIterable<ProgressEvent> {
  readonly #buffer: ProgressEvent[] = [];
  #wake: (() => void) | null = null;
  #ended = false;

  push(e: ProgressEvent): void {
    if (this.#ended) return;
    this.#buffer.push(e);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *events(): AsyncGenerator<ProgressEvent> {
    for (;;) {
      const next = this.#buffer.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = null;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ProgressEvent> {
    return this.events();
  }
}
