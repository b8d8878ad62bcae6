import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Queries behind shares and share codes (JupyterHub 5 sharing). */

/** A share with the names its model needs. */
export interface ShareView {
  id: number;
  spawner_id: number;
  server_name: string;
  owner_id: number;
  owner_name: string;
  user_name: string | null;
  group_name: string | null;
  scopes: string[];
  created: Date;
}

/** A share code with the names its model needs. */
export interface ShareCodeView {
  id: number;
  spawner_id: number;
  server_name: string;
  owner_id: number;
  owner_name: string;
  scopes: string[];
  created: Date;
  expires_at: Date;
  exchange_count: number;
  last_exchanged_at: Date | null;
}

/** Which shares a listing covers. */
export type ShareFilter =
  | { ownerId: number }
  | { spawnerId: number }
  /** Shares to this user, directly or through any of the user's groups. */
  | { userId: number }
  | { groupId: number };

/** Whom a share is granted to. */
export type Grantee = { userId: number } | { groupId: number };

export interface Page {
  offset: number;
  limit: number;
}

function shareQuery(db: Kysely<Database>) {
  return db
    .selectFrom('shares')
    .innerJoin('spawners', 'spawners.id', 'shares.spawner_id')
    .innerJoin('users as owner', 'owner.id', 'spawners.user_id')
    .leftJoin('users as grantee', 'grantee.id', 'shares.user_id')
    .leftJoin('groups', 'groups.id', 'shares.group_id');
}

const SHARE_COLUMNS = [
  'shares.id', 'shares.spawner_id', 'spawners.name as server_name', 'owner.id as owner_id', 'owner.name as owner_name',
  'grantee.name as user_name', 'groups.name as group_name', 'shares.scopes', 'shares.created',
] as const;

/** One page of shares in id order, and the total the page is part of. */
export async function listShares(db: Kysely<Database>, filter: ShareFilter, page: Page): Promise<{ rows: ShareView[]; total: number }> {
  let q = shareQuery(db);
  if ('ownerId' in filter) q = q.where('spawners.user_id', '=', filter.ownerId);
  else if ('spawnerId' in filter) q = q.where('shares.spawner_id', '=', filter.spawnerId);
  else if ('groupId' in filter) q = q.where('shares.group_id', '=', filter.groupId);
  else {
    const userId = filter.userId;
    q = q.where((eb) =>
      eb.or([
        eb('shares.user_id', '=', userId),
        eb('shares.group_id', 'in', eb.selectFrom('user_groups').select('user_groups.group_id').where('user_groups.user_id', '=', userId)),
      ]),
    );
  }
  const [rows, count] = await Promise.all([
    q.select(SHARE_COLUMNS).orderBy('shares.id').offset(page.offset).limit(page.limit).execute(),
    q.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** The share of server `spawnerId` with this user or group. */
export async function findShare(db: Kysely<Database>, spawnerId: number, grantee: Grantee): Promise<ShareView | undefined> {
  let q = shareQuery(db).where('shares.spawner_id', '=', spawnerId);
  q = 'userId' in grantee ? q.where('shares.user_id', '=', grantee.userId) : q.where('shares.group_id', '=', grantee.groupId);
  return q.select(SHARE_COLUMNS).executeTakeFirst();
}

/**
 * Grants `scopes` (already filtered to the server) on server `spawnerId`: creates the share, or adds
 * the scopes to the existing one (atomically: concurrent grants never lose scopes).
 */
export async function grantShare(db: Kysely<Database>, spawnerId: number, grantee: Grantee, scopes: readonly string[]): Promise<ShareView> {
  const merged = sql<string>`(select coalesce(jsonb_agg(v order by v), '[]'::jsonb) from (select distinct jsonb_array_elements_text(shares.scopes || excluded.scopes) as v) d)`;
  const values = { spawner_id: spawnerId, scopes: JSON.stringify([...scopes].sort()) };
  const inserted = 'userId' in grantee
    ? await db.insertInto('shares').values({ ...values, user_id: grantee.userId })
      .onConflict((oc) => oc.columns(['spawner_id', 'user_id']).doUpdateSet({ scopes: merged })).returning('id').executeTakeFirstOrThrow()
    : await db.insertInto('shares').values({ ...values, group_id: grantee.groupId })
      .onConflict((oc) => oc.columns(['spawner_id', 'group_id']).doUpdateSet({ scopes: merged })).returning('id').executeTakeFirstOrThrow();
  return shareQuery(db).where('shares.id', '=', inserted.id).select(SHARE_COLUMNS).executeTakeFirstOrThrow();
}

/**
 * Revokes `scopes` (already filtered to the server; null = all) from a share. Returns the share that
 * is left, or null when nothing is left (the share is deleted) or there was no share.
 */
export async function revokeShare(db: Kysely<Database>, spawnerId: number, grantee: Grantee, scopes: readonly string[] | null): Promise<ShareView | null> {
  return db.transaction().execute(async (tx) => {
    let q = tx.selectFrom('shares').select(['id', 'scopes']).where('spawner_id', '=', spawnerId);
    q = 'userId' in grantee ? q.where('user_id', '=', grantee.userId) : q.where('group_id', '=', grantee.groupId);
    const share = await q.forUpdate().executeTakeFirst();
    if (!share) return null;
    const left = scopes === null ? [] : share.scopes.filter((s) => !scopes.includes(s));
    if (!left.length) {
      await tx.deleteFrom('shares').where('id', '=', share.id).execute();
      return null;
    }
    if (left.length !== share.scopes.length) await tx.updateTable('shares').set({ scopes: JSON.stringify(left) }).where('id', '=', share.id).execute();
    return (await shareQuery(tx).where('shares.id', '=', share.id).select(SHARE_COLUMNS).executeTakeFirst()) ?? null;
  });
}

export async function deleteShare(db: Kysely<Database>, id: number): Promise<boolean> {
  const res = await db.deleteFrom('shares').where('id', '=', id).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

/** Revokes every share of server `spawnerId`; returns how many there were. */
export async function deleteServerShares(db: Kysely<Database>, spawnerId: number): Promise<number> {
  const res = await db.deleteFrom('shares').where('spawner_id', '=', spawnerId).executeTakeFirst();
  return Number(res.numDeletedRows);
}

function codeQuery(db: Kysely<Database>) {
  return db
    .selectFrom('share_codes')
    .innerJoin('spawners', 'spawners.id', 'share_codes.spawner_id')
    .innerJoin('users as owner', 'owner.id', 'spawners.user_id');
}

const CODE_COLUMNS = [
  'share_codes.id', 'share_codes.spawner_id', 'spawners.name as server_name', 'owner.id as owner_id', 'owner.name as owner_name',
  'share_codes.scopes', 'share_codes.created', 'share_codes.expires_at', 'share_codes.exchange_count', 'share_codes.last_exchanged_at',
] as const;

/** Expired codes can never be used again; they are dropped whenever codes are listed or looked up. */
export async function purgeExpiredCodes(db: Kysely<Database>, now = new Date()): Promise<void> {
  await db.deleteFrom('share_codes').where('expires_at', '<=', now).execute();
}

/** One page of live share codes in id order (of one owner's servers, or of one server). */
export async function listShareCodes(
  db: Kysely<Database>,
  filter: { ownerId: number } | { spawnerId: number },
  page: Page,
): Promise<{ rows: ShareCodeView[]; total: number }> {
  await purgeExpiredCodes(db);
  let q = codeQuery(db);
  q = 'ownerId' in filter ? q.where('spawners.user_id', '=', filter.ownerId) : q.where('share_codes.spawner_id', '=', filter.spawnerId);
  const [rows, count] = await Promise.all([
    q.select(CODE_COLUMNS).orderBy('share_codes.id').offset(page.offset).limit(page.limit).execute(),
    q.select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function insertShareCode(
  db: Kysely<Database>,
  values: { spawnerId: number; codeHash: string; scopes: readonly string[]; expiresAt: Date },
): Promise<ShareCodeView> {
  const { id } = await db
    .insertInto('share_codes')
    .values({ spawner_id: values.spawnerId, code_hash: values.codeHash, scopes: JSON.stringify(values.scopes), expires_at: values.expiresAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  return codeQuery(db).where('share_codes.id', '=', id).select(CODE_COLUMNS).executeTakeFirstOrThrow();
}

/**
 * The code with this hash (optionally only on server `spawnerId`), expired ones included: callers
 * tell "expired" from "unknown" themselves.
 */
export async function findShareCode(db: Kysely<Database>, codeHash: string, spawnerId?: number): Promise<ShareCodeView | undefined> {
  let q = codeQuery(db).where('share_codes.code_hash', '=', codeHash);
  if (spawnerId !== undefined) q = q.where('share_codes.spawner_id', '=', spawnerId);
  return q.select(CODE_COLUMNS).executeTakeFirst();
}

/** Deletes code `id` of server `spawnerId`; false when there is no such code. */
export async function deleteShareCode(db: Kysely<Database>, spawnerId: number, id: number): Promise<boolean> {
  const res = await db.deleteFrom('share_codes').where('id', '=', id).where('spawner_id', '=', spawnerId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function deleteServerShareCodes(db: Kysely<Database>, spawnerId: number): Promise<number> {
  const res = await db.deleteFrom('share_codes').where('spawner_id', '=', spawnerId).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/**
 * Exchanges a code for a share with user `userId`: counts the exchange and grants the code's scopes,
 * in one transaction. Returns null (and changes nothing) if the code has expired or is gone.
 */
export async function exchangeShareCode(db: Kysely<Database>, codeId: number, userId: number, scopes: readonly string[]): Promise<ShareView | null> {
  return db.transaction().execute(async (tx) => {
    const now = new Date();
    const bumped = await tx
      .updateTable('share_codes')
      .set((eb) => ({ exchange_count: eb('exchange_count', '+', 1), last_exchanged_at: now }))
      .where('id', '=', codeId)
      .where('expires_at', '>', now)
      .returning('spawner_id')
      .executeTakeFirst();
    if (!bumped) return null;
    return grantShare(tx, bumped.spawner_id, { userId }, scopes);
  });
}
