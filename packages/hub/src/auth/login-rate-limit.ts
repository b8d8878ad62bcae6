/**
 * Failed-login throttling per username and per client address: after `maxFailures` failures within
 * `windowSeconds` under any of a request's keys, further attempts are refused until the oldest failure
 * leaves the window. A success clears the request's keys. Memory is bounded: at most `maxKeys` keys,
 * the least recently failed evicted first, and each key keeps at most `maxFailures` timestamps.
 * The same sliding window limits self sign-ups per address ({@link count} each one).
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
    const a = `a:${addressKey(address)}`;
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

  /** Counts one event that is limited whether or not it fails (a sign-up): the same as {@link fail}. */
  count(keys: readonly string[]): void {
    this.fail(keys);
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

/**
 * The part of a client address that is limited as one: an IPv4 address, or the /64 network of an IPv6
 * one. IPv6 text has many spellings (`2001:db8::1`, `2001:0db8:0:0::2`, IPv4-mapped `::ffff:1.2.3.4`):
 * the address is expanded first, else two hosts of one /64, or one host spelled two ways, would get
 * separate budgets.
 */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '').toLowerCase();
  if (!plain.includes(':')) return plain;
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap(dottedToHex));
  const [head, tail] = plain.includes('::') ? (plain.split('::', 2) as [string, string]) : [plain, undefined];
  const first = groups(head);
  const last = tail === undefined ? [] : groups(tail);
  const full = [...first, ...Array<string>(Math.max(0, 8 - first.length - last.length)).fill('0'), ...last].map((g) => Number.parseInt(g, 16) || 0);
  // IPv4-mapped (::ffff:a.b.c.d): the IPv4 client it stands for.
  if (full.length === 8 && full.slice(0, 5).every((g) => g === 0) && full[5] === 0xffff) {
    return [full[6]! >> 8, full[6]! & 255, full[7]! >> 8, full[7]! & 255].join('.');
  }
  return full.slice(0, 4).map((g) => g.toString(16)).join(':') + '::/64';
}

/** An embedded dotted IPv4 tail (`::ffff:1.2.3.4`, `64:ff9b::1.2.3.4`) as its two 16-bit groups. */
function dottedToHex(group: string): string[] {
  if (!group.includes('.')) return [group];
  const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
