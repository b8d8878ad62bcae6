import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Database, GroupRow, UserRow } from './schema.js';

/** What GET /users asks of the users table; every filter runs in SQL. */
export interface UserListQuery {
  /** null: every user. Else only users named in `users` or members of a group in `groups` (scope filters). */
  visible: { users: readonly string[]; groups: readonly string[] } | null;
  /** Case-insensitive substring of the name (literal: `%` and `_` are not wildcards). */
  nameFilter: string | null;
  /** The state filter: keep only (`in`) or drop (`not in`) these user ids. */
  ids: { mode: 'in' | 'not in'; ids: readonly number[] } | null;
  sort: 'id' | 'name' | 'last_activity';
  descending: boolean;
  offset: number;
  limit: number;
}

type UsersQuery = SelectQueryBuilder<Database, 'users', object>;

function filtered(db: Kysely<Database>, q: UserListQuery): UsersQuery {
  let query: UsersQuery = db.selectFrom('users');
  const { visible, ids } = q;
  if (visible) {
    // One IN over a UNION (not an OR of two conditions) so Postgres drives the query from the few
    // visible ids (a semi-join on the primary key) instead of scanning every user.
    const users = [...visible.users];
    const groups = [...visible.groups];
    query = query.where('users.id', 'in', (eb) =>
      eb
        .selectFrom('users as u')
        .select('u.id as id')
        .where(sql<boolean>`u.name = any(${users}::text[])`)
        .unionAll(
          eb
            .selectFrom('user_groups')
            .innerJoin('groups', 'groups.id', 'user_groups.group_id')
            .select('user_groups.user_id as id')
            .where(sql<boolean>`groups.name = any(${groups}::text[])`),
        ),
    );
  }
  if (q.nameFilter) query = query.where(sql<boolean>`strpos(lower(users.name), lower(${q.nameFilter})) > 0`);
  if (ids) {
    if (ids.mode === 'in') query = query.where(ids.ids.length ? sql<boolean>`users.id = any(${[...ids.ids]}::int[])` : sql<boolean>`false`);
    // `<> all(array)` is hashed by Postgres 15+, so a long list of active users stays cheap.
    else if (ids.ids.length) query = query.where(sql<boolean>`users.id <> all(${[...ids.ids]}::int[])`);
  }
  return query;
}

/**
 * One page of users: ORDER BY the sort column (id, the unique name index or the last_activity index)
 * + LIMIT/OFFSET, so the cost follows the page, not the table. As JupyterHub 5 does, NULL activity
 * sorts first ascending and last descending; ties break on id so pages never overlap.
 */
export async function listUsers(db: Kysely<Database>, q: UserListQuery): Promise<UserRow[]> {
  let query = filtered(db, q).selectAll('users');
  const dir = q.descending ? 'desc' : 'asc';
  if (q.sort === 'last_activity') {
    query = query
      .orderBy('users.last_activity', (ob) => (q.descending ? ob.desc().nullsLast() : ob.asc().nullsFirst()))
      .orderBy('users.id', dir);
  } else {
    query = query.orderBy(`users.${q.sort}`, dir);
  }
  return query.offset(q.offset).limit(q.limit).execute();
}

/** How many users match (for `_pagination.total`): one COUNT, no rows loaded. */
export async function countUsers(db: Kysely<Database>, q: UserListQuery): Promise<number> {
  const row = await filtered(db, q).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Group names of many users in one query: user id -> sorted names (absent users map to []). */
export async function groupNamesByUser(db: Kysely<Database>, userIds: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(userIds.map((id) => [id, []]));
  if (!userIds.length) return out;
  const rows = await db
    .selectFrom('user_groups')
    .innerJoin('groups', 'groups.id', 'user_groups.group_id')
    .select(['user_groups.user_id', 'groups.name'])
    .where(sql<boolean>`user_groups.user_id = any(${[...userIds]}::int[])`)
    .orderBy('groups.name')
    .execute();
  for (const r of rows) out.get(r.user_id)?.push(r.name);
  return out;
}

/** Role names held directly by each user (user_roles), for a page of users in one query. */
export async function roleNamesByUser(db: Kysely<Database>, userIds: readonly number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>(userIds.map((id) => [id, []]));
  if (!userIds.length) return out;
  const rows = await db
    .selectFrom('user_roles')
    .innerJoin('roles', 'roles.id', 'user_roles.role_id')
    .select(['user_roles.user_id', 'roles.name'])
    .where(sql<boolean>`user_roles.user_id = any(${[...userIds]}::int[])`)
    .execute();
  for (const r of rows) out.get(r.user_id)?.push(r.name);
  return out;
}

export interface SpawnerSummary {
  user_id: number;
  name: string;
  user_options: Record<string, unknown>;
  started: Date | null;
  last_activity: Date | null;
}

/** Every server row (running or stopped) of many users in one query, for `include_stopped_servers`. */
export async function spawnersByUser(db: Kysely<Database>, userIds: readonly number[]): Promise<Map<number, SpawnerSummary[]>> {
  const out = new Map<number, SpawnerSummary[]>(userIds.map((id) => [id, []]));
  if (!userIds.length) return out;
  const rows = await db
    .selectFrom('spawners')
    .select(['user_id', 'name', 'user_options', 'started', 'last_activity'])
    .where(sql<boolean>`user_id = any(${[...userIds]}::int[])`)
    .orderBy('name')
    .execute();
  for (const r of rows) out.get(r.user_id)?.push(r);
  return out;
}

/** Users by exact name (after normalisation), in one query. */
export async function findUsersByName(db: Kysely<Database>, names: readonly string[]): Promise<UserRow[]> {
  if (!names.length) return [];
  return db.selectFrom('users').selectAll().where(sql<boolean>`name = any(${[...names]}::text[])`).execute();
}

/** Creates the users that do not exist yet (one INSERT); returns the rows created. */
export async function createUsers(db: Kysely<Database>, names: readonly string[], admin: boolean): Promise<UserRow[]> {
  if (!names.length) return [];
  return db
    .insertInto('users')
    .values(names.map((name) => ({ name, admin })))
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .execute();
}

export async function findGroupsByName(db: Kysely<Database>, names: readonly string[]): Promise<GroupRow[]> {
  if (!names.length) return [];
  return db.selectFrom('groups').selectAll().where(sql<boolean>`name = any(${[...names]}::text[])`).execute();
}

export interface UserPatch {
  name?: string;
  admin?: boolean;
  /** JSON text, or null to clear. */
  authState?: string | null;
  /** Exactly these group ids. */
  groupIds?: readonly number[];
}

/** Applies a PATCH in one transaction; returns the updated row. */
export async function updateUser(db: Kysely<Database>, id: number, patch: UserPatch): Promise<UserRow> {
  return db.transaction().execute(async (tx) => {
    const set: { name?: string; admin?: boolean; auth_state?: string | null } = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.admin !== undefined) set.admin = patch.admin;
    if (patch.authState !== undefined) set.auth_state = patch.authState;
    if (Object.keys(set).length) await tx.updateTable('users').set(set).where('id', '=', id).execute();
    if (patch.admin === false) {
      // As JupyterHub's assign_default_roles: losing admin also strips an explicit `admin` role grant.
      await tx.deleteFrom('user_roles').where('user_id', '=', id).where('role_id', 'in', tx.selectFrom('roles').select('id').where('name', '=', 'admin')).execute();
    }
    if (patch.groupIds) {
      const keep = [...patch.groupIds];
      let del = tx.deleteFrom('user_groups').where('user_id', '=', id);
      if (keep.length) del = del.where(sql<boolean>`group_id <> all(${keep}::int[])`);
      await del.execute();
      if (keep.length) {
        await tx.insertInto('user_groups').values(keep.map((group_id) => ({ user_id: id, group_id }))).onConflict((oc) => oc.doNothing()).execute();
      }
    }
    return tx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  });
}

/** Deletes a user; servers, tokens, sessions, memberships and role grants go with it (ON DELETE CASCADE). */
export async function deleteUserRow(db: Kysely<Database>, id: number): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}
