import type { JsonValue, PluginStore } from '@tshub/plugin-api';
import { KeyedLock } from './keyed-lock.js';

/** What is stored under `account:<name>`. Unknown extra fields are kept on rewrite. */
export type AccountRecord = {
  /** ISO 8601 time the record was first written. */
  created: string;
  /** argon2id PHC string. Absent while an account exists but has no password yet. */
  password_hash?: string;
  /** ISO 8601 time the password was last set. */
  password_changed?: string;
  /** Absent means active: records written before sign-up existed are active accounts. */
  status?: 'active' | 'pending';
  /** An administrator opened the account without a password: the next login sets it (allow_first_use). */
  first_use?: boolean;
  /** Wrong passwords in a row since the last success or lockout. */
  failed_logins?: number;
  /** Set while locked (or until the next attempt after an expired lock). `until` null: until an admin unlocks. */
  locked?: { since: string; until: string | null };
};

/** The store key of a user's account record. */
export function accountKey(name: string): string {
  return `account:${name}`;
}

const PREFIX = accountKey('');

/**
 * Reads a record defensively: the store holds arbitrary JSON. A value that is not an object is no
 * account; fields of the wrong type are dropped, so a damaged record neither crashes a login nor lets
 * anyone in.
 */
function parseRecord(value: JsonValue | undefined): AccountRecord | undefined {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const created = typeof value.created === 'string' ? value.created : '';
  const record: AccountRecord = { ...(value as Record<string, JsonValue>), created } as AccountRecord;
  if (typeof record.password_hash !== 'string' || record.password_hash === '') delete record.password_hash;
  if (record.status !== 'pending') delete record.status;
  if (typeof record.failed_logins !== 'number') delete record.failed_logins;
  const locked = record.locked as unknown;
  if (locked === null || typeof locked !== 'object' || typeof (locked as { since?: unknown }).since !== 'string') delete record.locked;
  return record;
}

/** Whether a record's lock is in force at `now`. */
export function isLocked(record: AccountRecord, now: Date): boolean {
  const lock = record.locked;
  if (!lock) return false;
  return lock.until === null || Date.parse(lock.until) > now.getTime();
}

/**
 * The account records in the plugin store. Read-modify-write goes through {@link update}, which runs
 * one change per name at a time: the store has no compare-and-set, and tshub runs one hub process, so
 * an in-process queue keeps two first logins (or a failure count and a reset) from overwriting each other.
 */
export class AccountBook {
  readonly #store: PluginStore;
  readonly #lock = new KeyedLock();

  constructor(store: PluginStore) {
    this.#store = store;
  }

  async read(name: string): Promise<AccountRecord | undefined> {
    return parseRecord(await this.#store.get(accountKey(name)));
  }

  /**
   * Applies `change` to the current record under the per-name lock. `change` returns the new record,
   * `undefined` to leave it alone, or `null` to delete it. Resolves with what `change` returned.
   */
  update(name: string, change: (current: AccountRecord | undefined) => Promise<AccountRecord | null | undefined> | AccountRecord | null | undefined): Promise<AccountRecord | null | undefined> {
    return this.#lock.run(name, async () => {
      const next = await change(await this.read(name));
      if (next === null) await this.#store.delete(accountKey(name));
      else if (next !== undefined) await this.#store.set(accountKey(name), next as unknown as JsonValue);
      return next;
    });
  }

  async delete(name: string): Promise<void> {
    await this.#lock.run(name, () => this.#store.delete(accountKey(name)));
  }

  /** Every account, by name. Classes have hundreds of accounts, not millions: one read each is fine. */
  async all(): Promise<Array<{ name: string; record: AccountRecord }>> {
    const out: Array<{ name: string; record: AccountRecord }> = [];
    for (const key of await this.#store.keys(PREFIX)) {
      const record = parseRecord(await this.#store.get(key));
      if (record) out.push({ name: key.slice(PREFIX.length), record });
    }
    return out;
  }
}
