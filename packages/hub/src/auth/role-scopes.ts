import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { ADMIN_SCOPES, expandScopes, toScopeSet, type ScopeSet } from './scopes.js';
import { shareScopes } from './share-scopes.js';

/**
 * The scopes a user holds: the `user` role (self) for everyone, the `admin` role for admins, and every
 * role assigned to them directly or through their groups (load_roles). Bare `!user` / `!group`
 * filters in role scopes resolve to the holder. One query.
 */
export async function userRoleScopes(
  db: Kysely<Database>,
  user: { id: number; name: string; admin: boolean },
): Promise<{ list: string[]; set: ScopeSet }> {
  const rows = await db
    .selectFrom('roles')
    .select(['roles.name', 'roles.scopes'])
    .where((eb) =>
      eb.or([
        // Everyone holds the user role; load_roles may have extended it.
        eb('roles.name', '=', 'user'),
        eb('roles.id', 'in', eb.selectFrom('user_roles').select('role_id').where('user_id', '=', user.id)),
        eb('roles.id', 'in', eb.selectFrom('group_roles').innerJoin('user_groups', 'user_groups.group_id', 'group_roles.group_id').select('group_roles.role_id').where('user_groups.user_id', '=', user.id)),
      ]),
    )
    .execute();
  const granted: string[] = ['self'];
  if (user.admin) granted.push(...ADMIN_SCOPES);
  for (const r of rows) {
    for (const s of r.scopes) granted.push(resolveBareFilter(s, user.name));
  }
  // Servers shared with the user or one of their groups; each scope already carries its !server= filter.
  granted.push(...(await shareScopes(db, user.id)));
  const list = [...expandScopes(granted, user.name)].sort();
  return { list, set: toScopeSet(list) };
}

/** `read:users!user` held by alice means `read:users!user=alice`. */
export function resolveBareFilter(scope: string, owner: string): string {
  if (scope.endsWith('!user')) return `${scope}=${owner}`;
  return scope;
}

/**
 * The scopes a service holds: the admin role's when it is an admin service, plus the roles assigned
 * to it (load_roles `services:`). Bare `!service` filters resolve to the service itself.
 */
export async function serviceRoleScopes(db: Kysely<Database>, service: { id: number; name: string; admin: boolean }): Promise<{ list: string[]; set: ScopeSet }> {
  const rows = await db
    .selectFrom('roles')
    .innerJoin('service_roles', 'service_roles.role_id', 'roles.id')
    .select('roles.scopes')
    .where('service_roles.service_id', '=', service.id)
    .execute();
  const granted: string[] = service.admin ? [...ADMIN_SCOPES] : [];
  for (const r of rows) for (const s of r.scopes) granted.push(s.endsWith('!service') ? `${s}=${service.name}` : s);
  const list = [...expandScopes(granted)].sort();
  return { list, set: toScopeSet(list) };
}
