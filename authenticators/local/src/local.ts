import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, AuthenticatorPlugin, AuthModel, JsonValue, LoginInput, PluginStore } from '@tshub/plugin-api';
import { KeyedLock } from './keyed-lock.js';
import { MAX_PASSWORD_LENGTH, checkPasswordRules, getDummyHash, hashPassword, isOverlong, verifyPassword } from './password.js';

/**
 * Options of `kind: local`. Fields are optional because the hub fills defaults from the schema; the
 * code applies the same defaults again so that a plugin created without validation behaves the same.
 * (A type alias rather than an interface, so it stays assignable to `Record<string, unknown>`.)
 */
export type LocalAuthConfig = {
  minimum_password_length?: number;
  first_use_passwords?: boolean;
  allow_signup?: boolean;
};

/** What is stored under `account:<name>`. Unknown extra fields are kept on rewrite. */
export type AccountRecord = {
  /** argon2id PHC string. Absent while an account exists but has no password yet. */
  password_hash?: string;
  /** ISO 8601 time the record was first written. */
  created: string;
  /** ISO 8601 time the password was last set. */
  password_changed?: string;
};

const DEFAULT_MIN_LENGTH = 8;

/** The store key of a user's account record. */
export function accountKey(name: string): string {
  return `account:${name}`;
}

const localConfigSchema = {
  type: 'object',
  properties: {
    minimum_password_length: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PASSWORD_LENGTH,
      default: DEFAULT_MIN_LENGTH,
      description: 'Shortest password (in characters) accepted when a password is set. Existing passwords keep working if this is raised.',
    },
    first_use_passwords: {
      type: 'boolean',
      default: false,
      description:
        'When true, a user with no password yet sets it by logging in for the first time (like FirstUseAuthenticator). ' +
        'allowed_users / allow_all still decide who may log in, so restrict them: otherwise anyone can claim any unused name.',
    },
    allow_signup: {
      type: 'boolean',
      default: false,
      description: 'Reserved for a self-service sign-up page. Accepted but not implemented yet: it currently has no effect.',
    },
  },
} as const;

/** Reads a record defensively: the store holds arbitrary JSON, and a damaged record must not crash a login. */
async function readAccount(store: PluginStore, name: string): Promise<{ [key: string]: JsonValue } | undefined> {
  const value = await store.get(accountKey(name));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return value;
}

async function readPasswordHash(store: PluginStore, name: string): Promise<string | undefined> {
  const hash = (await readAccount(store, name))?.password_hash;
  return typeof hash === 'string' && hash !== '' ? hash : undefined;
}

/** Accounts with argon2id-hashed passwords, kept in the hub database through the plugin store. */
class LocalAuthenticator implements Authenticator {
  readonly loginKind = 'form' as const;
  readonly loginHint: string | undefined;
  readonly #store: PluginStore;
  readonly #ctx: AuthContext<LocalAuthConfig>;
  readonly #minLength: number;
  readonly #firstUse: boolean;
  // One lock per authenticator instance: it guards this instance's store.
  readonly #lock = new KeyedLock();

  constructor(ctx: AuthContext<LocalAuthConfig>) {
    this.#ctx = ctx;
    this.#store = ctx.store;
    this.#minLength = ctx.config.minimum_password_length ?? DEFAULT_MIN_LENGTH;
    this.#firstUse = ctx.config.first_use_passwords ?? false;
    this.loginHint = this.#firstUse ? 'If you have not logged in before, the password you enter now becomes your password.' : undefined;
    if (ctx.config.allow_signup === true) {
      ctx.log.warn('authenticator.allow_signup is not implemented yet and has no effect');
    }
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const name = input.fields['username'] ?? '';
    const password = input.fields['password'] ?? '';
    // These refusals depend only on the input, not on whether the account exists, so answering them
    // quickly reveals nothing.
    if (name === '' || password === '' || isOverlong(password)) return null;

    const storedHash = await readPasswordHash(this.#store, name);
    if (storedHash !== undefined) return (await verifyPassword(storedHash, password)) ? { name } : null;
    if (this.#firstUse) return this.#claim(name, password);
    // No account: do the same work as a wrong password so the response time does not tell them apart.
    await verifyPassword(await getDummyHash(), password);
    return null;
  }

  /** First-use login: sets the password unless someone else set it while we waited for the lock. */
  #claim(name: string, password: string): Promise<AuthModel | null> {
    return this.#lock.run(name, async () => {
      const storedHash = await readPasswordHash(this.#store, name);
      if (storedHash !== undefined) return (await verifyPassword(storedHash, password)) ? { name } : null;
      const problem = checkPasswordRules(password, this.#minLength);
      if (problem !== null) {
        throw new HubError(400, `${problem} The password you enter on your first login becomes your password.`);
      }
      await this.#writePassword(name, password);
      this.#ctx.log.info({ user: name }, 'first login set the password');
      return { name };
    });
  }

  async setPassword(name: string, password: string): Promise<void> {
    if (name === '') throw new HubError(400, 'A user name is required.');
    const problem = checkPasswordRules(password, this.#minLength);
    if (problem !== null) throw new HubError(400, problem);
    await this.#lock.run(name, () => this.#writePassword(name, password));
    this.#ctx.log.info({ user: name }, 'password set');
  }

  async pendingAdminSetup(adminUsers: readonly string[]): Promise<string | null> {
    for (const name of adminUsers) {
      if ((await readPasswordHash(this.#store, name)) === undefined) return name;
    }
    return null;
  }

  /** Hashes and stores, keeping the record's other fields (creation time, future sign-up data). */
  async #writePassword(name: string, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    const now = new Date().toISOString();
    const existing = await readAccount(this.#store, name);
    const created = typeof existing?.created === 'string' ? existing.created : now;
    const record: AccountRecord = { created, password_hash: passwordHash, password_changed: now };
    await this.#store.set(accountKey(name), { ...existing, ...record });
  }
}

/**
 * `kind: local`: user accounts with passwords stored in the hub database (argon2id). Accounts come from
 * the one-time admin setup link ({@link Authenticator.setPassword}) or, with `first_use_passwords`, from a
 * user's first login.
 */
export const localAuthenticator: AuthenticatorPlugin<LocalAuthConfig> = {
  kind: 'local',
  configSchema: localConfigSchema,
  create: (ctx) => new LocalAuthenticator(ctx),
};
