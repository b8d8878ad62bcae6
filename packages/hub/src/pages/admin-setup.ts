import { timingSafeEqual } from 'node:crypto';
import { newSecret } from '../auth/secrets.js';

/**
 * The one-time link printed at first start when the admin account has no password yet. The token
 * lives only in this process's memory: a restart prints a new link and voids the old one.
 */
export class AdminSetup {
  #pending: { admin: string; token: string } | null = null;

  open(admin: string): string {
    const token = newSecret(24);
    this.#pending = { admin, token };
    return token;
  }

  /** The admin name if `token` is the current one-time token. */
  check(token: unknown): string | null {
    if (!this.#pending || typeof token !== 'string') return null;
    const a = Buffer.from(token);
    const b = Buffer.from(this.#pending.token);
    return a.length === b.length && timingSafeEqual(a, b) ? this.#pending.admin : null;
  }

  consume(): void {
    this.#pending = null;
  }
}
