import type { Kysely } from 'kysely';
import type { Database, UserRow } from './schema.js';

/** User rows and group membership. */
export async function findUser(db: Kysely<Database>, name: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findUserById(db: Kysely<Database>, id: number): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The user named `name`, created if missing; `admin` is applied when given. */
export async function ensureUser(db: Kysely<Database>, name: string, opts: { admin?: boolean } = {}): Promise<UserRow> {
  const existing = await findUser(db, name);
  if (existing) {
    if (opts.admin !== undefined && existing.admin !== opts.admin) {
      return db.updateTable('users').set({ admin: opts.admin }).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
    }
    return existing;
  }
  const inserted = await db
    .insertInto('users')
    .values({ name, admin: opts.admin ?? false })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await findUser(db, name))!;
}

export async function userGroupNames(db: Kysely<Database>, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .select('groups.name')
    .where('user_groups.user_id', '=', userId)
    .orderBy('groups.name')
    .execute();
  return rows.map((r) => r.name);
}

export async function touchUserActivity(db: Kysely<Database>, userId: number, when: Date): Promise<void> {
  await db
    .updateTable('users')
    .set({ last_activity: when })
    .where('id', '=', userId)
    .where((eb) => eb.or([eb('last_activity', 'is', null), eb('last_activity', '<', when)]))
    .execute();
}
