import { HubError } from '@tshub/plugin-api';
import type { AccountManager, PluginLogger } from '@tshub/plugin-api';
import { isLocked, type AccountBook, type AccountRecord } from './account-book.js';
import type { LocalOptions } from './local-config.js';
import { cleared, hasFailureState } from './lockout.js';
import { checkPasswordRules, hashPassword, isOverlong, verifyPassword } from './password.js';

/** The record with a new password: keeps creation time and status, ends first use, failures and locks. */
export function withPassword(existing: AccountRecord | undefined, passwordHash: string, now: Date): AccountRecord {
  const { first_use: _firstUse, ...rest } = cleared(existing ?? { created: now.toISOString() });
  return { ...rest, created: rest.created || now.toISOString(), password_hash: passwordHash, password_changed: now.toISOString() };
}

/** Sign-up, approvals, unlocks and password changes for the local kind (the hub's account pages call these). */
export class LocalAccounts implements AccountManager {
  readonly #book: AccountBook;
  readonly #opts: LocalOptions;
  readonly #log: PluginLogger;

  constructor(book: AccountBook, opts: LocalOptions, log: PluginLogger) {
    this.#book = book;
    this.#opts = opts;
    this.#log = log;
  }

  get signupEnabled(): boolean {
    return this.#opts.signup;
  }

  get minimumPasswordLength(): number {
    return this.#opts.minLength;
  }

  /** The rules every new password meets; throws HubError(400) with the first problem. */
  #checkNew(name: string, password: string): void {
    const problem = checkPasswordRules(password, this.#opts.minLength, { username: name, checkCommon: this.#opts.checkCommon });
    if (problem !== null) throw new HubError(400, problem);
  }

  async signUp(name: string, password: string): Promise<{ status: 'active' | 'pending' }> {
    if (!this.#opts.signup) throw new HubError(404, 'Sign-up is not enabled on this hub.');
    this.#checkNew(name, password);
    const status = this.#opts.openSignup ? 'active' : 'pending';
    const passwordHash = await hashPassword(password);
    const now = new Date().toISOString();
    await this.#book.update(name, (current) => {
      if (current !== undefined) throw new HubError(409, `The username ${name} is already taken. Choose another one.`);
      const record: AccountRecord = { created: now, password_hash: passwordHash, password_changed: now };
      return status === 'pending' ? { ...record, status } : record;
    });
    if (status === 'pending') this.#log.info({ user: name }, 'new account waits for approval at /hub/authorize');
    else this.#log.info({ user: name }, 'new account signed up');
    return { status };
  }

  async changePassword(name: string, oldPassword: string, newPassword: string): Promise<void> {
    const record = await this.#book.read(name);
    if (record?.password_hash === undefined) throw new HubError(400, 'This account has no password to change yet.');
    if (oldPassword === '' || isOverlong(oldPassword) || !(await verifyPassword(record.password_hash, oldPassword))) {
      throw new HubError(403, 'The current password is not correct.');
    }
    if (newPassword === oldPassword) throw new HubError(400, 'The new password must differ from the current one.');
    this.#checkNew(name, newPassword);
    const passwordHash = await hashPassword(newPassword);
    await this.#book.update(name, (current) => withPassword(current, passwordHash, new Date()));
    this.#log.info({ user: name }, 'password changed');
  }

  async hasAccount(name: string): Promise<boolean> {
    return (await this.#book.read(name)) !== undefined;
  }

  async listPending(): Promise<{ name: string; created: string }[]> {
    const pending = (await this.#book.all()).filter(({ record }) => record.status === 'pending');
    return pending.map(({ name, record }) => ({ name, created: record.created })).sort((a, b) => a.created.localeCompare(b.created));
  }

  async approve(name: string): Promise<void> {
    await this.#book.update(name, (current) => {
      if (current?.status !== 'pending') throw new HubError(404, `No account named ${name} is waiting for approval.`);
      const { status: _status, ...approved } = current;
      return approved;
    });
    this.#log.info({ user: name }, 'account approved');
  }

  async reject(name: string): Promise<void> {
    await this.#book.update(name, (current) => {
      if (current?.status !== 'pending') throw new HubError(404, `No account named ${name} is waiting for approval.`);
      return null;
    });
    this.#log.info({ user: name }, 'sign-up rejected');
  }

  async listLocked(): Promise<{ name: string; until: string | null }[]> {
    const now = new Date();
    return (await this.#book.all())
      .filter(({ record }) => isLocked(record, now))
      .map(({ name, record }) => ({ name, until: record.locked?.until ?? null }));
  }

  async unlock(name: string): Promise<void> {
    await this.#book.update(name, (current) => {
      if (current === undefined) throw new HubError(404, `No account named ${name}.`);
      return hasFailureState(current) ? cleared(current) : undefined;
    });
    this.#log.info({ user: name }, 'account unlocked');
  }

  async resetPassword(name: string, newPassword: string | null): Promise<void> {
    if (newPassword === null) {
      if (!this.#opts.firstUse) {
        throw new HubError(400, 'Give a new password: clearing it so that the next login sets one needs authenticator.allow_first_use.');
      }
      await this.#book.update(name, (current) => {
        const { password_hash: _hash, password_changed: _changed, ...rest } = cleared(current ?? { created: new Date().toISOString() });
        return { ...rest, first_use: true };
      });
      this.#log.info({ user: name }, 'password cleared by an admin; the next login sets it');
      return;
    }
    this.#checkNew(name, newPassword);
    const passwordHash = await hashPassword(newPassword);
    await this.#book.update(name, (current) => withPassword(current, passwordHash, new Date()));
    this.#log.info({ user: name }, 'password reset by an admin');
  }

  async userCreated(name: string): Promise<void> {
    if (!this.#opts.firstUse) return;
    await this.#book.update(name, (current) => (current === undefined ? { created: new Date().toISOString(), first_use: true } : undefined));
  }

  async userRenamed(oldName: string, newName: string): Promise<void> {
    const record = await this.#book.read(oldName);
    if (record === undefined || oldName === newName) return;
    await this.#book.update(newName, (replaced) => {
      if (replaced) this.#log.warn({ user: newName }, 'a rename replaced the account that had this name');
      return record;
    });
    await this.#book.delete(oldName);
    this.#log.info({ user: newName, from: oldName }, 'account renamed');
  }
}
