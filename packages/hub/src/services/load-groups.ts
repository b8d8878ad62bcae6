import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { addGroupMembers, ensureGroup } from '../db/groups.js';
import { ensureUser } from '../db/users.js';

/**
 * JupyterHub's load_groups: creates the groups and adds the listed users (created if missing).
 * Only adds: memberships made later through the API are kept. Properties, when given, replace.
 */
export async function loadGroups(
  db: Kysely<Database>,
  groups: Readonly<Record<string, string[] | { users?: string[]; properties?: Record<string, unknown> }>>,
): Promise<void> {
  for (const [name, spec] of Object.entries(groups)) {
    const { users = [], properties } = Array.isArray(spec) ? { users: spec, properties: undefined } : spec;
    const group = await ensureGroup(db, name);
    const ids: number[] = [];
    for (const u of users) ids.push((await ensureUser(db, u.trim().toLowerCase())).id);
    await addGroupMembers(db, group.id, ids);
    if (properties) await db.updateTable('groups').set({ properties: JSON.stringify(properties) }).where('id', '=', group.id).execute();
  }
}
