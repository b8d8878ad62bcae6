/**
 * Local-account management that an authenticator may offer (the local kind does). The hub renders the
 * pages (sign-up, change password, the admin's approvals and unlocks) and calls these methods; the
 * plugin keeps the accounts. Throw HubError(4xx) with a message for the person on refusals.
 */
export interface AccountManager {
  /** Whether /hub/signup is offered. */
  readonly signupEnabled: boolean;
  /** Creates an account. `pending` when an admin must approve it first. */
  signUp(name: string, password: string): Promise<{ status: 'active' | 'pending' }>;
  /** Changes a password after checking the old one. */
  changePassword(name: string, oldPassword: string, newPassword: string): Promise<void>;
  /** Accounts waiting for approval. */
  listPending(): Promise<{ name: string; created: string }[]>;
  approve(name: string): Promise<void>;
  reject(name: string): Promise<void>;
  /** Accounts locked after repeated failures. */
  listLocked(): Promise<{ name: string; until: string | null }[]>;
  unlock(name: string): Promise<void>;
  /** Admin reset: sets a new password (or clears it so the next login sets it, with first_use). */
  resetPassword(name: string, newPassword: string | null): Promise<void>;
}
