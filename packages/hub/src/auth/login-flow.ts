import type { AuthModel, Authenticator } from '@tshub/plugin-api';
import type { Kysely } from 'kysely';
import type { AuthenticatorConfig } from '../config/schema.js';
import type { Database, UserRow } from '../db/schema.js';
import { ensureUser, findUser } from '../db/users.js';

export type LoginOutcome = { ok: true; user: UserRow } | { ok: false; reason: 'invalid' | 'blocked' | 'not-allowed'; message: string };

/** JupyterHub's default normalisation: trimmed and lower-cased. */
export function normalizeUsername(name: string): string {
  return name.trim().toLowerCase();
}

/** A name the hub accepts: 1-255 characters, no slashes or control characters, matching username_pattern. */
export function validUsername(name: string, pattern: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > 255 || /[/\\\u0000-\u001f\u007f]/.test(name)) return false;
  return pattern ? new RegExp(`^(?:${pattern})$`).test(name) : true;
}

/**
 * The login pipeline (hub code, not overridable): authenticate -> normalise -> validate -> blocked ->
 * allowed -> admin -> persist.
 */
export async function runLoginFlow(
  deps: { db: Kysely<Database>; authenticator: Authenticator; config: AuthenticatorConfig; implicitAllowAll: boolean },
  fields: Record<string, string>,
  remoteAddress: string,
): Promise<LoginOutcome> {
  const { config } = deps;
  const invalid = { ok: false as const, reason: 'invalid' as const, message: 'Invalid username or password.' };
  const typed = normalizeUsername(fields.username ?? '');
  if (!validUsername(typed, config.username_pattern)) return invalid;
  const model: AuthModel | null = await deps.authenticator.authenticate({ fields: { ...fields, username: typed }, remoteAddress });
  if (!model) return invalid;
  const name = normalizeUsername(model.name);
  if (!validUsername(name, config.username_pattern)) return invalid;
  if (config.blocked_users.map(normalizeUsername).includes(name)) {
    return { ok: false, reason: 'blocked', message: 'Invalid username or password.' };
  }
  const admins = config.admin_users.map(normalizeUsername);
  const existing = await findUser(deps.db, name);
  const allowExisting = config.allow_existing_users ?? config.allowed_users.length > 0;
  const allowed =
    config.allow_all || deps.implicitAllowAll || admins.includes(name) || config.allowed_users.map(normalizeUsername).includes(name) ||
    (allowExisting && existing !== undefined) || (await deps.authenticator.checkAllowed?.(name, model)) === true;
  if (!allowed) return { ok: false, reason: 'not-allowed', message: `User ${name} is not allowed to use this hub. Ask an administrator to add you.` };
  const admin = admins.includes(name) ? true : model.admin;
  const user = await ensureUser(deps.db, name, admin === undefined ? {} : { admin });
  return { ok: true, user };
}
