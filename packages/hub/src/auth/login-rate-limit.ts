/**
 * Failed-login throttling per username and per client address: after `maxFailures` failures within
 * `windowSeconds` under any of a request's keys, further attempts are refused until the oldest failure
 * leaves the window. A success clears the request's keys. Memory is bounded: at most `maxKeys` keys,
 * the least recently failed evicted first, and each key keeps at most `maxFailures` timestamps.
 */
export class LoginRateLimiter {
  /** key -> failure times (ms), oldest first. Map order = least recently failed first. */
  readonly #failures = new Map<string, number[]>();
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(opts: { maxFailures: number; windowSeconds: number; maxKeys?: number; now?: () => number }) {
    this.#max = opts.maxFailures;
    this.#windowMs = opts.windowSeconds * 1000;
    this.#maxKeys = opts.maxKeys ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#max > 0 && this.#windowMs > 0;
  }

  /** The keys of a login attempt: the address always, the (normalised) username when known. */
  static keys(address: string, username?: string): string[] {
    // IPv6 clients count per /64 (one host usually holds a whole /64); names are cut to the longest
    // valid username so a huge typed name cannot inflate memory.
    const a = `a:${address.includes(':') ? address.split(':').slice(0, 4).join(':') : address}`;
    return username ? [a, `u:${username.slice(0, 255)}`] : [a];
  }

  /** Seconds to wait when any key is over the limit, else 0. */
  retryAfter(keys: readonly string[]): number {
    if (!this.enabled) return 0;
    const now = this.#now();
    let wait = 0;
    for (const key of keys) {
      const times = this.#live(key, now);
      if (times.length >= this.#max) wait = Math.max(wait, times[0]! + this.#windowMs - now);
    }
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  fail(keys: readonly string[]): void {
    if (!this.enabled) return;
    const now = this.#now();
    for (const key of keys) {
      const times = this.#live(key, now);
      times.push(now);
      if (times.length > this.#max) times.splice(0, times.length - this.#max);
      // Re-insert so the Map's order stays "least recently failed first".
      this.#failures.delete(key);
      this.#failures.set(key, times);
    }
    while (this.#failures.size > this.#maxKeys) this.#failures.delete(this.#failures.keys().next().value!);
  }

  /** Takes back the newest failure of each key (an attempt counted up front that then succeeded). */
  undo(keys: readonly string[]): void {
    for (const key of keys) {
      const times = this.#failures.get(key);
      times?.pop();
      if (times && !times.length) this.#failures.delete(key);
    }
  }

  succeed(keys: readonly string[]): void {
    for (const key of keys) this.#failures.delete(key);
  }

  /** Number of keys held (tests check the bound). */
  get size(): number {
    return this.#failures.size;
  }

  #live(key: string, now: number): number[] {
    const times = this.#failures.get(key);
    if (!times) return [];
    const cutoff = now - this.#windowMs;
    while (times.length && times[0]! <= cutoff) times.shift();
    if (!times.length) this.#failures.delete(key);
    return times;
  }
}
