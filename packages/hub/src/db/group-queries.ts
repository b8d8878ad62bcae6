import type { Kysely } from 'kysely';
import type { JsonObject } from '@tshub/plugin-api';
import type { Database, GroupRow } from './schema.js';

/** Queries behind /hub/api/groups: pages of groups, their members and roles in bulk, and mutations. */

/**
 * One page of groups in id order, and the total the page is part of. `names` restricts the listing
 * (a caller holding only `list:groups!group=x` filters); null means every group.
 */
export async function listGroups(
  db: Kysely<Database>,
  opts: { names: readonly string[] | null; offset: number; limit: number },
): Promise<{ rows: GroupRow[]; total: number }> {
  if (opts.names && opts.names.length === 0) return { rows: [], total: 0 };
  let q = db.selectFrom('groups');
  if (opts.names) q = q.where('name', 'in', [...opts.names]);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('id').offset(opts.offset).limit(opts.limit).execute(),
    q.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** Member names of each group (sorted), in one query. Groups without members map to []. */
export async function groupMemberNames(db: Kysely<Database>, groupIds: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(groupIds.map((id) => [id, []]));
  if (!groupIds.length) return out;
  const rows = await db
    .selectFrom('user_groups')
    .innerJoin('users', 'users.id', 'user_groups.user_id')
    .select(['user_groups.group_id', 'users.name'])
    .where('user_groups.group_id', 'in', [...groupIds])
    .orderBy('users.name')
    .execute();
  for (const r of rows) out.get(r.group_id)?.push(r.name);
  return out;
}

/** Role names held by each group (sorted), in one query. */
export async function groupRoleNames(db: Kysely<Database>, groupIds: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(groupIds.map((id) => [id, []]));
  if (!groupIds.length) return out;
  const rows = await db
    .selectFrom('group_roles')
    .innerJoin('roles', 'roles.id', 'group_roles.role_id')
    .select(['group_roles.group_id', 'roles.name'])
    .where('group_roles.group_id', 'in', [...groupIds])
    .orderBy('roles.name')
    .execute();
  for (const r of rows) out.get(r.group_id)?.push(r.name);
  return out;
}

/**
 * Ids of the users named `names` (in the order given, duplicates collapsed), or the first name that
 * does not exist.
 */
export async function userIdsByName(db: Kysely<Database>, names: readonly string[]): Promise<{ ids: number[] } | { missing: string }> {
  const unique = [...new Set(names)];
  if (!unique.length) return { ids: [] };
  const rows = await db.selectFrom('users').select(['id', 'name']).where('name', 'in', unique).execute();
  const byName = new Map(rows.map((r) => [r.name, r.id]));
  const ids: number[] = [];
  for (const n of unique) {
    const id = byName.get(n);
    if (id === undefined) return { missing: n };
    ids.push(id);
  }
  return { ids };
}

/** Creates a group with its members, atomically; undefined when the name is taken. */
export async function createGroup(
  db: Kysely<Database>,
  name: string,
  userIds: readonly number[],
  properties: JsonObject = {},
): Promise<GroupRow | undefined> {
  return db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('groups')
      .values({ name, properties: JSON.stringify(properties) })
      .onConflict((oc) => oc.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row && userIds.length) {
      await tx.insertInto('user_groups').values(userIds.map((user_id) => ({ user_id, group_id: row.id }))).onConflict((oc) => oc.doNothing()).execute();
    }
    return row;
  });
}

/** Deletes a group (memberships and role grants cascade); false when it was already gone. */
export async function deleteGroup(db: Kysely<Database>, groupId: number): Promise<boolean> {
  const res = await db.deleteFrom('groups').where('id', '=', groupId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function removeGroupMembers(db: Kysely<Database>, groupId: number, userIds: readonly number[]): Promise<void> {
  if (!userIds.length) return;
  await db.deleteFrom('user_groups').where('group_id', '=', groupId).where('user_id', 'in', [...userIds]).execute();
}

/** Replaces all of a group's properties; the updated row, or undefined if the group is gone. */
export async function setGroupProperties(db: Kysely<Database>, groupId: number, properties: JsonObject): Promise<GroupRow | undefined> {
  return db.updateTable('groups').set({ properties: JSON.stringify(properties) }).where('id', '=', groupId).returningAll().executeTakeFirst();
}
