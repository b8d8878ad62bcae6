import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { HubError, type JsonObject } from '@tshub/plugin-api';

/** Stored values start with this; anything else in users.auth_state is legacy plaintext JSON. */
const PREFIX = 'tshub-aes256gcm:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface Key {
  readonly id: string;
  readonly bytes: Buffer;
}

/**
 * Parses `JUPYTERHUB_CRYPT_KEY` as JupyterHub does: keys separated by ';', each 32 bytes given as hex
 * (64 characters) or base64 (standard or url-safe). The first key encrypts; any of them decrypts, so
 * rotating means prepending the new key ("new;old") until every row was rewritten.
 */
export function parseCryptKeys(value: string | undefined): Buffer[] {
  const parts = (value ?? '').split(';').map((s) => s.trim()).filter(Boolean);
  return parts.map((part, i) => {
    const bytes = /^[0-9a-fA-F]{64}$/.test(part) ? Buffer.from(part, 'hex') : Buffer.from(part.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length !== 32) {
      throw new HubError(500, `JUPYTERHUB_CRYPT_KEY: key ${i + 1} is not 32 bytes (give 64 hex characters or 32 bytes in base64, e.g. from \`openssl rand -hex 32\`)`);
    }
    return bytes;
  });
}

/**
 * AES-256-GCM for users.auth_state. A stored value is PREFIX + key id + '.' + base64(iv | tag | ciphertext);
 * the key id (a hash prefix of the key) picks the key without trial decryption.
 */
export class AuthStateCrypt {
  readonly #keys: Key[];

  constructor(keys: readonly Buffer[]) {
    this.#keys = keys.map((bytes) => ({ bytes, id: createHash('sha256').update(bytes).digest('hex').slice(0, 8) }));
  }

  static fromEnv(env: NodeJS.ProcessEnv): AuthStateCrypt {
    return new AuthStateCrypt(parseCryptKeys(env.JUPYTERHUB_CRYPT_KEY));
  }

  get enabled(): boolean {
    return this.#keys.length > 0;
  }

  /** Whether `stored` was written by {@link encrypt} (rather than legacy plaintext). */
  static isEncrypted(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  /** The value to store. Without a key, plaintext JSON (the API's behaviour before encryption). */
  encrypt(state: JsonObject): string {
    const key = this.#keys[0];
    const plain = JSON.stringify(state);
    if (!key) return plain;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${key.id}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /**
   * The stored state, or null when there is none or it cannot be read (no key for it any more,
   * tampered): as JupyterHub, an unreadable auth_state is treated as absent rather than failing logins.
   */
  decrypt(stored: string | null): { state: JsonObject | null; readable: boolean; current: boolean } {
    if (stored === null) return { state: null, readable: true, current: true };
    if (!AuthStateCrypt.isEncrypted(stored)) return { state: parseObject(stored), readable: true, current: !this.enabled };
    const rest = stored.slice(PREFIX.length);
    const dot = rest.indexOf('.');
    const id = rest.slice(0, dot);
    const raw = Buffer.from(rest.slice(dot + 1), 'base64');
    const key = this.#keys.find((k) => k.id === id);
    if (!key || raw.length < IV_BYTES + TAG_BYTES) return { state: null, readable: false, current: false };
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      return { state: parseObject(plain), readable: true, current: key === this.#keys[0] };
    } catch {
      return { state: null, readable: false, current: false };
    }
  }
}

function parseObject(text: string): JsonObject | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : null;
  } catch {
    return null;
  }
}
