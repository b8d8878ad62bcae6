import type { Kysely } from 'kysely';
import type { Database, GroupRow } from './schema.js';

/** The group named `name`, created (empty) if missing. */
export async function ensureGroup(db: Kysely<Database>, name: string): Promise<GroupRow> {
  const found = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
  if (found) return found;
  const inserted = await db.insertInto('groups').values({ name }).onConflict((oc) => oc.column('name').doNothing()).returningAll().executeTakeFirst();
  return inserted ?? (await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirstOrThrow());
}

export async function findGroup(db: Kysely<Database>, name: string): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Adds users (by id) to a group; existing memberships are kept. */
export async function addGroupMembers(db: Kysely<Database>, groupId: number, userIds: readonly number[]): Promise<void> {
  if (!userIds.length) return;
  await db.insertInto('user_groups').values(userIds.map((user_id) => ({ user_id, group_id: groupId }))).onConflict((oc) => oc.doNothing()).execute();
}
