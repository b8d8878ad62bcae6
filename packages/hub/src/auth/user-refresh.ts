import type { Authenticator } from '@tshub/plugin-api';
import type { Logger } from 'pino';
import type { UserRow } from '../db/schema.js';
import { findUserById } from '../db/users.js';
import { applyAuthModel, type ApplyDeps } from './apply-model.js';
import { normalizeUsername } from './login-flow.js';

export interface RefreshDeps extends ApplyDeps {
  readonly authenticator: Authenticator;
  readonly log: Logger;
  /** Called when a refresh changed admin, groups or auth_state, or ended a login. */
  readonly invalidate: () => void;
}

/**
 * JupyterHub's refresh_user: asks the authenticator whether a user's login still holds, before a spawn
 * and when the last check is older than `auth_refresh_age`. When each user was last checked is kept in
 * memory only (a restarted hub re-checks on the next request), so the request hot path costs a Map
 * lookup; concurrent requests of one user share a single call.
 */
export class UserRefresher {
  readonly #checked = new Map<number, number>();
  readonly #inflight = new Map<number, Promise<boolean>>();

  constructor(private readonly deps: RefreshDeps) {}

  /** Whether the authenticator can refresh at all. */
  get enabled(): boolean {
    return typeof this.deps.authenticator.refreshUser === 'function';
  }

  /** Whether a request by this user should re-check the login first. */
  due(userId: number, now = Date.now()): boolean {
    if (!this.enabled) return false;
    const last = this.#checked.get(userId);
    return last === undefined || now - last >= this.deps.config.auth_refresh_age * 1000;
  }

  /** A fresh login counts as checked. */
  markFresh(userId: number): void {
    this.#checked.delete(userId);
    this.#checked.set(userId, Date.now());
    // Bounded: the oldest entries just get re-checked early.
    if (this.#checked.size > 100_000) this.#checked.delete(this.#checked.keys().next().value!);
  }

  forget(userId: number): void {
    this.#checked.delete(userId);
  }

  /**
   * Re-checks the user. Resolves false when the authenticator says the login is no longer valid;
   * errors (provider unreachable) reject, and the caller decides (spawns fail, requests carry on).
   */
  refresh(userId: number): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(true);
    let pending = this.#inflight.get(userId);
    if (!pending) {
      pending = this.#refresh(userId).finally(() => this.#inflight.delete(userId));
      this.#inflight.set(userId, pending);
    }
    return pending;
  }

  async #refresh(userId: number): Promise<boolean> {
    const { deps } = this;
    const user = await findUserById(deps.db, userId);
    if (!user) return false;
    const authState = deps.config.enable_auth_state ? deps.authState.read(user.auth_state) : null;
    let result: Awaited<ReturnType<NonNullable<Authenticator['refreshUser']>>>;
    try {
      result = await deps.authenticator.refreshUser!({ name: user.name, authState });
    } catch (err) {
      deps.log.warn({ user: user.name, err: err instanceof Error ? err.message : String(err) }, 'refreshing the login with the authenticator failed');
      throw err;
    }
    if (result === false) {
      this.forget(userId);
      deps.log.info({ user: user.name }, 'the authenticator no longer accepts this login; the user must log in again');
      return false;
    }
    if (result !== true) await this.#apply(user, result);
    this.markFresh(userId);
    return true;
  }

  async #apply(user: UserRow, model: Exclude<Awaited<ReturnType<NonNullable<Authenticator['refreshUser']>>>, boolean>): Promise<void> {
    const { deps } = this;
    const admin = deps.config.admin_users.map(normalizeUsername).includes(user.name) ? true : model.admin;
    const updated = await applyAuthModel(deps, user, model, admin);
    if (updated !== user) deps.invalidate();
  }
}
