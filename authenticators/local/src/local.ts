import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, AuthenticatorPlugin, AuthModel, LoginInput, PluginLogger } from '@tshub/plugin-api';
import { AccountBook, type AccountRecord } from './account-book.js';
import { LocalAccounts, withPassword } from './local-accounts.js';
import { localConfigSchema, resolveLocalOptions, type LocalAuthConfig, type LocalOptions } from './local-config.js';
import { afterFailure, cleared, hasFailureState, lockedError } from './lockout.js';
import { checkPasswordRules, getDummyHash, hashPassword, isOverlong, verifyPassword } from './password.js';

export const WAITING_FOR_APPROVAL = 'Your account is waiting for approval by an administrator. You can log in once it is approved.';

/** Accounts with argon2id-hashed passwords, kept in the hub database through the plugin store. */
class LocalAuthenticator implements Authenticator {
  readonly loginKind = 'form' as const;
  readonly loginHint: string | undefined;
  readonly hasAllowRules: boolean;
  readonly accounts: LocalAccounts;
  readonly #book: AccountBook;
  readonly #opts: LocalOptions;
  readonly #log: PluginLogger;

  constructor(ctx: AuthContext<LocalAuthConfig>) {
    this.#book = new AccountBook(ctx.store);
    this.#opts = resolveLocalOptions(ctx.config);
    this.#log = ctx.log;
    this.accounts = new LocalAccounts(this.#book, this.#opts, ctx.log);
    this.loginHint = this.#opts.firstUse ? 'If you have not logged in before, the password you enter now becomes your password.' : undefined;
    // Sign-up and first use let accounts appear that no allowed_users list names; checkAllowed admits them.
    this.hasAllowRules = this.#opts.signup || this.#opts.firstUse;
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const name = input.fields['username'] ?? '';
    const password = input.fields['password'] ?? '';
    // These refusals depend only on the input, not on whether the account exists, so answering them
    // quickly reveals nothing.
    if (name === '' || password === '' || isOverlong(password)) return null;

    const record = await this.#book.read(name);
    if (record === undefined || (record.password_hash === undefined && !this.#opensOnFirstUse(record))) {
      // No account: do the same work as a wrong password so the response time does not tell them apart.
      await verifyPassword(await getDummyHash(), password);
      return null;
    }
    const locked = lockedError(record, this.#opts, new Date());
    if (locked) throw locked;
    if (record.password_hash === undefined) return this.#claim(name, password);

    if (!(await verifyPassword(record.password_hash, password))) {
      await this.#countFailure(name);
      return null;
    }
    if (record.status === 'pending') throw new HubError(403, WAITING_FOR_APPROVAL);
    if (hasFailureState(record)) await this.#book.update(name, (current) => (current ? cleared(current) : undefined));
    return { name };
  }

  /** An approved account with a password may log in even when allowed_users does not list it. */
  async checkAllowed(name: string): Promise<boolean> {
    const record = await this.#book.read(name);
    return record !== undefined && record.password_hash !== undefined && record.status !== 'pending';
  }

  async setPassword(name: string, password: string): Promise<void> {
    if (name === '') throw new HubError(400, 'A user name is required.');
    const problem = checkPasswordRules(password, this.#opts.minLength, { username: name, checkCommon: this.#opts.checkCommon });
    if (problem !== null) throw new HubError(400, problem);
    const passwordHash = await hashPassword(password);
    await this.#book.update(name, (current) => withPassword(current, passwordHash, new Date()));
    this.#log.info({ user: name }, 'password set');
  }

  async pendingAdminSetup(adminUsers: readonly string[]): Promise<string | null> {
    for (const name of adminUsers) {
      if ((await this.#book.read(name))?.password_hash === undefined) return name;
    }
    return null;
  }

  async deleteUser(name: string): Promise<void> {
    await this.#book.delete(name);
  }

  #opensOnFirstUse(record: AccountRecord): boolean {
    return this.#opts.firstUse && record.first_use === true;
  }

  async #countFailure(name: string): Promise<void> {
    const updated = await this.#book.update(name, (current) => (current ? afterFailure(current, this.#opts, new Date()) : undefined));
    if (updated?.locked) {
      this.#log.warn({ user: name, until: updated.locked.until }, 'account locked after repeated failed logins; an admin can unlock it at /hub/authorize');
    }
  }

  /** First-use login: sets the password unless another login set it while this one waited for the lock. */
  async #claim(name: string, password: string): Promise<AuthModel | null> {
    const problem = checkPasswordRules(password, this.#opts.minLength, { username: name, checkCommon: this.#opts.checkCommon });
    if (problem !== null) throw new HubError(400, `${problem} The password you enter on your first login becomes your password.`);
    // Assigned inside the update callback; the cast keeps TypeScript from narrowing it to 'gone'.
    let outcome = 'gone' as 'claimed' | 'taken' | 'gone';
    const passwordHash = await hashPassword(password);
    await this.#book.update(name, (current) => {
      if (current?.password_hash !== undefined) {
        outcome = 'taken';
        return undefined;
      }
      if (current === undefined || !this.#opensOnFirstUse(current)) return undefined;
      outcome = 'claimed';
      return withPassword(current, passwordHash, new Date());
    });
    if (outcome === 'claimed') {
      this.#log.info({ user: name }, 'first login set the password');
      return { name };
    }
    // Someone else's first login won the race: check against what they set, like any login.
    return outcome === 'taken' ? this.authenticate({ fields: { username: name, password }, remoteAddress: '' }) : null;
  }
}

/**
 * `kind: local`: user accounts with passwords stored in the hub database (argon2id). Accounts come from
 * the one-time admin setup link, an admin's reset on /hub/authorize, self sign-up (enable_signup), or
 * an admin-created user's first login (allow_first_use).
 */
export const localAuthenticator: AuthenticatorPlugin<LocalAuthConfig> = {
  kind: 'local',
  configSchema: localConfigSchema,
  create: (ctx) => new LocalAuthenticator(ctx),
};
