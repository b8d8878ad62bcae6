import type { ProgressEvent } from '@tshub/plugin-api';

/**
 * Progress events pushed by `start` and read by the hub through `progress()`. Events before the reader
 * arrives are buffered; `end()` finishes the iteration (start settled).
 */
export class ProgressQueue {
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
}
