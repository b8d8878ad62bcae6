/**
 * Local-account management that an authenticator may offer (the local kind does). The hub renders the
 * pages (sign-up, change password, the admin's approvals and unlocks) and calls these methods; the
 * plugin keeps the accounts. Names reach these methods already normalised and validated by the hub.
 * Refusals throw HubError(4xx) whose message is shown to the person as it is.
 */
export interface AccountManager {
  /** Whether /hub/signup is offered. */
  readonly signupEnabled: boolean;
  /** Shortest password accepted, for the forms' hints and `minlength`. */
  readonly minimumPasswordLength: number;
  /**
   * Creates an account. `pending` when an admin must approve it first. Throws HubError(409) when the
   * name already has an account, HubError(400) when the password breaks a rule.
   */
  signUp(name: string, password: string): Promise<{ status: 'active' | 'pending' }>;
  /** Changes a password after checking the old one (HubError(403) when it is wrong). */
  changePassword(name: string, oldPassword: string, newPassword: string): Promise<void>;
  /** Whether `name` has a local account (any state). */
  hasAccount(name: string): Promise<boolean>;
  /** Accounts waiting for approval, oldest first. */
  listPending(): Promise<{ name: string; created: string }[]>;
  /** Approves a pending account (HubError(404) when there is none). */
  approve(name: string): Promise<void>;
  /** Forgets a pending account, so the name can sign up again (HubError(404) when there is none). */
  reject(name: string): Promise<void>;
  /** Accounts locked after repeated failures. `until` null: until an admin unlocks. */
  listLocked(): Promise<{ name: string; until: string | null }[]>;
  /** Ends a lockout and clears the failure count. */
  unlock(name: string): Promise<void>;
  /**
   * Admin reset: sets a new password (creating the account when the hub user has none), or with null
   * clears it so the next login sets it (only with first-use passwords; HubError(400) otherwise).
   * Also ends a lockout.
   */
  resetPassword(name: string, newPassword: string | null): Promise<void>;
  /**
   * The hub created user `name` outside a login (POST /hub/api/users, the admin page). With first-use
   * passwords this opens the account so that the person's first login sets the password; without,
   * it does nothing. An existing account is left as it is.
   */
  userCreated(name: string): Promise<void>;
  /**
   * The hub renamed a user (PATCH /hub/api/users/:name): the account moves to the new name, so the
   * person keeps their password. Replaces an account that waited under the new name.
   */
  userRenamed(oldName: string, newName: string): Promise<void>;
}
