import type { JsonObject, JsonSchema, JsonValue } from './json.js';
import type { PluginLogger } from './logger.js';
import type { AccountManager } from './accounts.js';

/** What a login form or a provider callback hands to {@link Authenticator.authenticate}. */
export interface LoginInput {
  /** Form fields (username, password, ...) as posted, or the provider callback's query. */
  readonly fields: Readonly<Record<string, string>>;
  /** The client's address, for rate limiting and logs. */
  readonly remoteAddress: string;
  /**
   * Redirect kinds, at the callback: the `pending` JSON that {@link Authenticator.loginRedirect} returned,
   * read back from a signed, HttpOnly, ten-minute cookie (state, PKCE verifier, nonce). null when the
   * cookie is missing or expired (another browser, a stale tab): refuse with a clear HubError(400).
   */
  readonly pending?: JsonObject | null;
  /** Redirect kinds: the absolute callback URL (no query) the provider was told to return to. */
  readonly callbackUrl?: string;
  /** Redirect kinds, at the callback: the full callback URL as requested, query included. */
  readonly currentUrl?: string;
}

/** The result of a successful authentication: always an object, never "string or dict". */
export interface AuthModel {
  name: string;
  /** true/false sets admin; undefined leaves it to `admin_users` and the stored flag. */
  admin?: boolean;
  /** Group names; applied only when the authenticator manages groups. */
  groups?: string[];
  authState?: JsonObject;
}

/**
 * A small persistent key-value store, namespaced per plugin, backed by the hub database.
 * Values are JSON. Used by the local authenticator for password hashes and approvals.
 */
export interface PluginStore {
  get(key: string): Promise<JsonValue | undefined>;
  set(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys that start with `prefix`, in lexical order. */
  keys(prefix?: string): Promise<string[]>;
}

export interface AuthContext<C = Record<string, unknown>> {
  /** The plugin's own options from the `authenticator:` section, validated. */
  readonly config: C;
  readonly store: PluginStore;
  readonly log: PluginLogger;
  /** The hub's public URLs, for plugins that build absolute links (CAS service URL). */
  readonly urls: { readonly hubPrefix: string; readonly publicOrigin: string };
}

/**
 * Decides who a person is. The login pipeline around it (normalise, blocked, allowed, admin, persist,
 * groups) is hub code: `authenticate` only checks the credentials.
 */
export interface Authenticator {
  /** `form` renders the hub's username/password form; `redirect` sends the browser to `loginUrl`. */
  readonly loginKind: 'form' | 'redirect';

  /**
   * Checks credentials. Resolves with the person's model, or null for "wrong credentials" (the hub
   * shows "Invalid username or password." and counts a failure). Throw HubError for other refusals.
   */
  authenticate(input: LoginInput): Promise<AuthModel | null>;

  /** Optional extra allow rule, run after the hub's allowed_users/allow_all check passed or was inconclusive. */
  checkAllowed?(name: string, model: AuthModel): Promise<boolean>;

  /**
   * Optional: of the configured admin users, one whose account has no password yet. The hub then
   * prints a one-time link at start-up that lets the operator set it through {@link setPassword}.
   */
  pendingAdminSetup?(adminUsers: readonly string[]): Promise<string | null>;

  /** Optional: sets a user's password (the one-time admin link; password changes). */
  setPassword?(name: string, password: string): Promise<void>;

  /** Extra text under the login form (e.g. a sign-up link). Plain text. */
  readonly loginHint?: string;

  /** Redirect kinds: the login button's text, e.g. "Sign in with GitHub". */
  readonly loginLabel?: string;

  /**
   * Redirect kinds: where to send the browser (the provider's authorize / CAS login URL) for a login
   * that returns to `callbackUrl`, and what to remember until the callback (handed back as
   * {@link LoginInput.pending}). The hub owns `next` and the cookie; the plugin owns state/PKCE/nonce.
   */
  loginRedirect?(ctx: { callbackUrl: string; remoteAddress: string }): Promise<{ url: string; pending: JsonObject }>;

  /**
   * Optional: re-checks a user from their stored auth_state (JupyterHub's refresh_user). The hub calls it
   * before a spawn and when a login is older than `authenticator.auth_refresh_age`. Resolve with
   * `true` (still valid, nothing changed), a new model (auth_state/admin/groups updated), or `false`
   * (the login is no longer valid: the hub ends the session and asks the person to log in again).
   */
  refreshUser?(user: { name: string; authState: JsonObject | null }): Promise<AuthModel | boolean>;

  /**
   * Optional: where the browser goes after the hub session ended (the provider's single logout), given
   * the hub's own login URL (absolute) to come back to. null: the hub's login page.
   */
  logoutRedirect?(ctx: { hubLoginUrl: string; authState: JsonObject | null }): string | null;

  /**
   * Optional start-up check of the plugin's own options beyond the schema (URLs parse, CA bundle readable,
   * discovery answers). Throw a HubError whose message names the key path, e.g.
   * `authenticator.cas_service_validate_url: not an https URL`. The hub refuses to start.
   */
  validateConfig?(): Promise<void>;

  /**
   * Optional: whether the plugin's own rules (allowed_organizations, allowed_groups, required attributes,
   * self sign-up) can let someone in. The hub's start-up check "nobody could log in" counts it.
   */
  readonly hasAllowRules?: boolean;

  /** Optional: forget what the plugin keeps for a user (password hash) when the user is deleted. */
  deleteUser?(name: string): Promise<void>;

  /** Optional: local-account management (sign-up, approval, lockout, password change); see accounts.ts. */
  readonly accounts?: AccountManager;
}

/** An authenticator kind, registered under a short name (`kind:` in the `authenticator:` section). */
export interface AuthenticatorPlugin<C = Record<string, unknown>> {
  readonly kind: string;
  readonly configSchema: JsonSchema;
  create(ctx: AuthContext<C>): Authenticator;
}
