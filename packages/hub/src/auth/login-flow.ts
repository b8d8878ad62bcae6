import type { AuthModel, Authenticator, LoginInput } from '@tshub/plugin-api';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuthenticatorConfig } from '../config/schema.js';
import type { Database, UserRow } from '../db/schema.js';
import { ensureUser, findUser } from '../db/users.js';
import { applyAuthModel } from './apply-model.js';
import type { AuthStateStore } from './auth-state-store.js';

export type LoginFailure = 'invalid' | 'blocked' | 'not-allowed' | 'refused';
export type LoginOutcome =
  | { ok: true; user: UserRow }
  | { ok: false; reason: LoginFailure; message: string; /** The (normalised) name the failure is about, when known. */ name?: string };

export interface LoginDeps {
  readonly db: Kysely<Database>;
  readonly authenticator: Authenticator;
  readonly config: AuthenticatorConfig;
  /** The configured kind, handed to post_auth_hook. */
  readonly kind: string;
  /** Local accounts without first-use passwords: having an account is being allowed. */
  readonly implicitAllowAll: boolean;
  readonly authState: AuthStateStore;
  readonly log: Logger;
  /** Called after a login changed admin, groups or auth_state (the identity cache). */
  readonly invalidate: () => void;
}

/** JupyterHub's default normalisation: trimmed and lower-cased. */
export function normalizeUsername(name: string): string {
  return name.trim().toLowerCase();
}

/** normalizeUsername, then `username_map` (JupyterHub applies the map to the normalised name). */
export function mapUsername(name: string, config: Pick<AuthenticatorConfig, 'username_map'>): string {
  const n = normalizeUsername(name);
  // Own string entries only: a name like "constructor" must not find Object.prototype members.
  const map = config.username_map ?? {};
  const mapped = Object.hasOwn(map, n) ? (map as Record<string, unknown>)[n] : undefined;
  return typeof mapped === 'string' ? normalizeUsername(mapped) : n;
}

/** A name the hub accepts: 1-255 characters, no slashes or control characters, matching username_pattern. */
export function validUsername(name: string, pattern: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > 255 || /[/\\\u0000-\u001f\u007f]/.test(name)) return false;
  return pattern ? new RegExp(`^(?:${pattern})$`).test(name) : true;
}

/** Form logins: the typed name is normalised before the authenticator sees it (the local kind looks it up). */
export async function runLoginFlow(deps: LoginDeps, fields: Record<string, string>, remoteAddress: string): Promise<LoginOutcome> {
  const typed = normalizeUsername(fields.username ?? '');
  if (!validUsername(typed, deps.config.username_pattern)) return invalidCredentials(deps.authenticator);
  return runLogin(deps, { fields: { ...fields, username: typed }, remoteAddress });
}

/**
 * The login pipeline (hub code, JupyterHub 5's get_authenticated_user): authenticate -> normalise and
 * map -> validate -> blocked -> allowed (admins always) -> admin -> post_auth_hook -> persist (admin,
 * auth_state, managed groups). HubErrors from the authenticator or the hook propagate to the page.
 */
export async function runLogin(deps: LoginDeps, input: LoginInput): Promise<LoginOutcome> {
  const { config, authenticator } = deps;
  const authenticated = await authenticator.authenticate(input);
  if (!authenticated) return invalidCredentials(authenticator);
  let model: AuthModel = { ...authenticated, name: mapUsername(authenticated.name, config) };
  let name = model.name;
  if (!validUsername(name, config.username_pattern)) {
    deps.log.warn({ user: name }, 'login refused: the authenticated name is not a valid username (see authenticator.username_pattern)');
    return authenticator.loginKind === 'form'
      ? invalidCredentials(authenticator)
      : { ok: false, reason: 'invalid', name, message: `The name '${name}' given by the identity provider is not a valid username on this hub.` };
  }
  const notAllowed = { ok: false as const, reason: 'not-allowed' as const, name, message: `User ${name} is not allowed to use this hub. Ask an administrator to add you.` };
  if (config.blocked_users.map(normalizeUsername).includes(name)) {
    // Form logins do not reveal that the password was right.
    return authenticator.loginKind === 'form' ? { ...invalidCredentials(authenticator), reason: 'blocked', name } : { ...notAllowed, reason: 'blocked' };
  }
  const admins = config.admin_users.map(normalizeUsername);
  const isConfiguredAdmin = admins.includes(name);
  if (!(await isAllowed(deps, name, model, isConfiguredAdmin))) return notAllowed;
  const admin = isConfiguredAdmin ? true : model.admin;
  model = { ...model, ...(admin === undefined ? {} : { admin }) };

  const hook = config.post_auth_hook;
  if (typeof hook === 'function') {
    const hooked = await hook(structuredClone(model), { remoteAddress: input.remoteAddress, kind: deps.kind });
    if (!hooked) return { ...notAllowed, reason: 'refused' };
    model = hooked;
    name = mapUsername(model.name, config);
    if (!validUsername(name, config.username_pattern)) return { ...notAllowed, reason: 'refused', message: `post_auth_hook returned an invalid username: ${name}` };
  }
  const existing = await ensureUser(deps.db, name, {});
  const user = await applyAuthModel(deps, existing, model, model.admin);
  if (user !== existing) deps.invalidate();
  return { ok: true, user };
}

/** allow_all, allowed_users, admins, allow_existing_users, then the authenticator's own rule. */
async function isAllowed(deps: LoginDeps, name: string, model: AuthModel, isConfiguredAdmin: boolean): Promise<boolean> {
  const { config } = deps;
  if (config.allow_all || deps.implicitAllowAll || isConfiguredAdmin || model.admin === true) return true;
  if (config.allowed_users.map(normalizeUsername).includes(name)) return true;
  const allowExisting = config.allow_existing_users ?? config.allowed_users.length > 0;
  if (allowExisting && (await findUser(deps.db, name)) !== undefined) return true;
  return (await deps.authenticator.checkAllowed?.(name, model)) === true;
}

function invalidCredentials(authenticator: Authenticator): { ok: false; reason: 'invalid'; message: string } {
  return {
    ok: false,
    reason: 'invalid',
    message: authenticator.loginKind === 'form' ? 'Invalid username or password.' : 'The identity provider did not confirm who you are.',
  };
}
