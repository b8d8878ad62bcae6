import type { ProgressEvent } from '@tshub/plugin-api';

/**
 * A queue of progress events read by one consumer: events pushed before the consumer starts are kept,
 * and the iteration ends after `end()` once the queue is drained.
 */
export class ProgressFeed implements AsyncIterable<ProgressEvent> {
  readonly #queue: ProgressEvent[] = [];
  #ended = false;
  #wake: (() => void) | null = null;

  push(e: ProgressEvent): void {
    if (this.#ended) return;
    this.#queue.push(e);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ProgressEvent> {
    for (;;) {
      const next = this.#queue.shift();
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
