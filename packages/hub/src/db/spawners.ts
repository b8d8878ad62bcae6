import type { Kysely } from 'kysely';
import type { JsonObject } from '@tshub/plugin-api';
import type { Database, SpawnerRow } from './schema.js';

/** The row of a user's server, created (stopped) if missing. */
export async function ensureSpawnerRow(db: Kysely<Database>, userId: number, name: string): Promise<SpawnerRow> {
  const found = await db.selectFrom('spawners').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  if (found) return found;
  const inserted = await db
    .insertInto('spawners')
    .values({ user_id: userId, name })
    .onConflict((oc) => oc.columns(['user_id', 'name']).doNothing())
    .returningAll()
    .executeTakeFirst();
  return inserted ?? (await db.selectFrom('spawners').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirstOrThrow());
}

export async function markSpawnerStarted(
  db: Kysely<Database>,
  id: number,
  values: { url: string; state: JsonObject; userOptions: JsonObject; started: Date },
): Promise<void> {
  await db
    .updateTable('spawners')
    .set({ url: values.url, state: JSON.stringify(values.state), user_options: JSON.stringify(values.userOptions), started: values.started, last_activity: values.started })
    .where('id', '=', id)
    .execute();
}

export async function saveSpawnerState(db: Kysely<Database>, id: number, state: JsonObject): Promise<void> {
  await db.updateTable('spawners').set({ state: JSON.stringify(state) }).where('id', '=', id).execute();
}

/** Clears the running fields; keeps user_options (JupyterHub keeps them for the next start). */
export async function markSpawnerStopped(db: Kysely<Database>, id: number): Promise<void> {
  await db.updateTable('spawners').set({ url: null, started: null, state: '{}' }).where('id', '=', id).execute();
}

/** Every server the database says is running, with its owner's name (for re-adoption at start-up). */
export async function listStartedSpawners(db: Kysely<Database>) {
  return db
    .selectFrom('spawners')
    .innerJoin('users', 'users.id', 'spawners.user_id')
    .selectAll('spawners')
    .select(['users.name as user_name', 'users.admin as user_admin'])
    .where('spawners.started', 'is not', null)
    .execute();
}
