import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { HubError } from '@tshub/plugin-api';
import { DEFAULT_ROLES } from '../auth/default-roles.js';
import { ALL_SCOPES, splitScope } from '../auth/scopes.js';
import type { RoleConfig } from '../config/schema.js';
import type { Database } from '../db/schema.js';
import { ensureUser } from '../db/users.js';
import { ensureGroup } from '../db/groups.js';

const FILTER = /^(user|server|group|service)(=.+)?$/;

/** Why a scope is not valid, or null. */
export function scopeProblem(scope: string): string | null {
  const { base, filter } = splitScope(scope);
  if (!(ALL_SCOPES.has(base) || base === 'self' || base === 'inherit' || /^custom:[a-z0-9_:-]+$/.test(base))) return `unknown scope '${base}'`;
  if (scope.includes('!') && !FILTER.test(filter)) return `bad filter '!${filter}' (use !user=, !server=, !group= or !service=)`;
  return null;
}

/**
 * JupyterHub's load_roles, strictly: default roles merge with their config entries; every scope must
 * exist; a role listing users/groups/services gets exactly those holders; roles that were loaded from
 * config before and are gone now are deleted; admin_users are merged into the admin role.
 */
export async function syncRoles(db: Kysely<Database>, specs: readonly RoleConfig[], adminUsers: readonly string[], log: Logger): Promise<void> {
  const seen = new Set<string>();
  const problems: string[] = [];
  specs.forEach((spec, i) => {
    if (seen.has(spec.name)) problems.push(`load_roles[${i}].name: role '${spec.name}' is defined twice`);
    seen.add(spec.name);
    for (const s of spec.scopes ?? []) {
      const p = scopeProblem(s);
      if (p) problems.push(`load_roles[${i}].scopes: ${p}`);
    }
  });
  if (problems.length) throw new HubError(500, `Invalid load_roles:\n  - ${problems.join('\n  - ')}`);

  const byName = new Map<string, RoleConfig>();
  for (const d of DEFAULT_ROLES) byName.set(d.name, { ...d, scopes: [...d.scopes] });
  for (const spec of specs) {
    const base = byName.get(spec.name);
    byName.set(spec.name, { ...spec, scopes: [...new Set([...(base?.scopes ?? []), ...(spec.scopes ?? [])])], description: spec.description ?? base?.description ?? '' });
  }
  const admin = byName.get('admin')!;
  if (adminUsers.length && admin.users) admin.users = [...new Set([...admin.users, ...adminUsers])];

  await db.transaction().execute(async (tx) => {
    const existing = await tx.selectFrom('roles').select(['id', 'name', 'scopes', 'managed_by_auth']).execute();
    for (const old of existing) {
      if (!byName.has(old.name) && !old.managed_by_auth) {
        await tx.deleteFrom('roles').where('id', '=', old.id).execute();
        log.info({ role: old.name }, 'role removed from config; deleted');
      }
    }
    for (const role of byName.values()) {
      const old = existing.find((r) => r.name === role.name);
      const scopes = JSON.stringify(role.scopes ?? []);
      let id: number;
      if (old) {
        const gained = (role.scopes ?? []).filter((s) => !old.scopes.includes(s));
        if (gained.length) log.warn({ role: role.name, gained }, 'role has obtained extra permissions');
        await tx.updateTable('roles').set({ scopes, description: role.description ?? '' }).where('id', '=', old.id).execute();
        id = old.id;
      } else {
        id = (await tx.insertInto('roles').values({ name: role.name, description: role.description ?? '', scopes }).returning('id').executeTakeFirstOrThrow()).id;
      }
      if (role.users) {
        const ids: number[] = [];
        for (const name of role.users) ids.push((await ensureUser(tx, name.trim().toLowerCase(), role.name === 'admin' ? { admin: true } : {})).id);
        await tx.deleteFrom('user_roles').where('role_id', '=', id).execute();
        if (ids.length) await tx.insertInto('user_roles').values(ids.map((user_id) => ({ user_id, role_id: id }))).execute();
      }
      if (role.groups) {
        const ids: number[] = [];
        for (const name of role.groups) ids.push((await ensureGroup(tx, name)).id);
        await tx.deleteFrom('group_roles').where('role_id', '=', id).execute();
        if (ids.length) await tx.insertInto('group_roles').values(ids.map((group_id) => ({ group_id, role_id: id }))).execute();
      }
      if (role.services) {
        const rows = role.services.length ? await tx.selectFrom('services').select(['id', 'name']).where('name', 'in', role.services).execute() : [];
        const missing = role.services.filter((n) => !rows.some((r) => r.name === n));
        if (missing.length) throw new HubError(500, `load_roles: role '${role.name}' names services that are not defined: ${missing.join(', ')}`);
        await tx.deleteFrom('service_roles').where('role_id', '=', id).execute();
        if (rows.length) await tx.insertInto('service_roles').values(rows.map((r) => ({ service_id: r.id, role_id: id }))).execute();
      }
    }
  });
}
