import type { AuthModel } from '@tshub/plugin-api';
import { sql, type Kysely } from 'kysely';
import type { AuthenticatorConfig } from '../config/schema.js';
import type { Database, UserRow } from '../db/schema.js';
import { updateUser } from '../db/user-queries.js';
import type { AuthStateStore } from './auth-state-store.js';

export interface ApplyDeps {
  readonly db: Kysely<Database>;
  readonly config: AuthenticatorConfig;
  readonly authState: AuthStateStore;
}

/**
 * Writes what a login or a refresh learned about a user: admin (when the model or admin_users decide),
 * auth_state (when enabled and given), and with manage_groups the exact group memberships (groups are
 * created as needed). The caller invalidates the identity cache.
 */
export async function applyAuthModel(deps: ApplyDeps, user: UserRow, model: AuthModel, admin: boolean | undefined): Promise<UserRow> {
  let groupIds: number[] | undefined;
  if (deps.config.manage_groups && Array.isArray(model.groups)) {
    const names = [...new Set(model.groups.filter((g): g is string => typeof g === 'string' && g.trim() !== ''))];
    groupIds = await ensureGroups(deps.db, names);
  }
  const authState = deps.config.enable_auth_state && model.authState !== undefined ? deps.authState.write(model.authState) : undefined;
  if (admin === undefined && authState === undefined && groupIds === undefined) return user;
  return updateUser(deps.db, user.id, {
    ...(admin !== undefined && admin !== user.admin ? { admin } : {}),
    ...(authState !== undefined ? { authState } : {}),
    ...(groupIds ? { groupIds } : {}),
  });
}

/** Ids of the named groups, creating the missing ones (concurrent logins may race: conflicts are fine). */
async function ensureGroups(db: Kysely<Database>, names: string[]): Promise<number[]> {
  if (!names.length) return [];
  await db.insertInto('groups').values(names.map((name) => ({ name, properties: '{}' }))).onConflict((oc) => oc.column('name').doNothing()).execute();
  const rows = await db.selectFrom('groups').select('id').where(sql<boolean>`name = any(${names}::text[])`).execute();
  return rows.map((r) => r.id);
}
