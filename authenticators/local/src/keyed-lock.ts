/**
 * Runs async work one at a time per key, within this process. Used so that two first logins for the
 * same name (or a first login and the admin setup link) cannot both see "no account yet" and both set
 * a password: the second one waits, re-reads, and then verifies against what the first stored.
 * The store has no compare-and-set, and tshub runs one hub process, so an in-process queue suffices.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier call for `key` has settled; resolves or rejects with its result. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(fn);
    // The tail never rejects, so one failed call does not fail the calls queued behind it.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    try {
      return await result;
    } finally {
      // Forget the key once nothing is queued behind us, so the map does not grow with every name seen.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
