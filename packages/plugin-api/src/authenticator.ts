import type { JsonObject, JsonSchema, JsonValue } from './json.js';
import type { PluginLogger } from './logger.js';

/** What a login form or a provider callback hands to {@link Authenticator.authenticate}. */
export interface LoginInput {
  /** Form fields (username, password, ...) as posted, or the provider callback's query. */
  readonly fields: Readonly<Record<string, string>>;
  /** The client's address, for rate limiting and logs. */
  readonly remoteAddress: string;
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
}

/** An authenticator kind, registered under a short name (`kind:` in the `authenticator:` section). */
export interface AuthenticatorPlugin<C = Record<string, unknown>> {
  readonly kind: string;
  readonly configSchema: JsonSchema;
  create(ctx: AuthContext<C>): Authenticator;
}
