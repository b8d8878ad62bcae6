import type { JsonObject } from '@tshub/plugin-api';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';
import { AuthStateCrypt } from './auth-state-crypt.js';

/**
 * users.auth_state through {@link AuthStateCrypt}: every read and write of the column goes here (login,
 * refresh, spawn, REST API), so the database never holds it in the clear while a key is set.
 */
export class AuthStateStore {
  #warnedUnreadable = false;

  constructor(
    private readonly db: Kysely<Database>,
    readonly crypt: AuthStateCrypt,
    private readonly log: Logger,
  ) {}

  /** Decrypts a column value already loaded with the user row (API presenters: no extra query). */
  read(stored: string | null): JsonObject | null {
    const { state, readable } = this.crypt.decrypt(stored);
    if (!readable && !this.#warnedUnreadable) {
      this.#warnedUnreadable = true;
      this.log.warn('an auth_state in the database cannot be decrypted with the keys in JUPYTERHUB_CRYPT_KEY (was a key removed?); it is treated as empty');
    }
    return state;
  }

  /** The column value for `state` (null clears it). */
  write(state: JsonObject | null): string | null {
    return state === null ? null : this.crypt.encrypt(state);
  }

  async load(userId: number): Promise<JsonObject | null> {
    const row = await this.db.selectFrom('users').select('auth_state').where('id', '=', userId).executeTakeFirst();
    return row ? this.read(row.auth_state) : null;
  }

  /**
   * Rewrites every auth_state not under the first key (plaintext from before a key was set, or an older
   * key of the rotation list), so the database holds none in the clear and old keys can be retired.
   * Returns how many rows were rewritten. Run once at start-up when a key is set.
   */
  async reencryptAll(): Promise<number> {
    if (!this.crypt.enabled) return 0;
    const rows = await this.db.selectFrom('users').select(['id', 'auth_state']).where('auth_state', 'is not', null).execute();
    let rewritten = 0;
    for (const row of rows) {
      const { state, readable, current } = this.crypt.decrypt(row.auth_state);
      if (!readable || current) continue;
      await this.save(row.id, state);
      rewritten++;
    }
    if (rewritten) this.log.info({ rows: rewritten }, 'auth_state re-encrypted with the first key of JUPYTERHUB_CRYPT_KEY');
    return rewritten;
  }

  async save(userId: number, state: JsonObject | null): Promise<void> {
    await this.db.updateTable('users').set({ auth_state: this.write(state) }).where('id', '=', userId).execute();
  }
}
