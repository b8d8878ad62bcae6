import { HubError } from '@tshub/plugin-api';
import type { HubContext } from '../hub-context.js';
import type { UserRow } from '../db/schema.js';
import { createUsers, deleteUserRow } from '../db/user-queries.js';

const delay = (ms: number) => new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());

/**
 * Creating and deleting users, shared by the REST API and the admin page so both behave alike:
 * the authenticator hears of new users (first-use passwords) and of deleted ones, spawners remove
 * what they keep (volumes, PVCs), and the identity cache is cleared.
 */
export async function addUsers(hub: HubContext, names: readonly string[], admin: boolean, by: string): Promise<UserRow[]> {
  const created = await createUsers(hub.db, [...names], admin);
  for (const u of created) await hub.authenticator.accounts?.userCreated(u.name);
  hub.identities.invalidate();
  hub.log.info({ by, users: created.map((u) => u.name), admin }, 'users created');
  return created;
}

/**
 * Deletes a user: stops their servers (waiting up to slow_stop_timeout; a stop still under way is a
 * 400 to retry), lets the spawner remove stored data, tells the authenticator, then drops the row.
 */
export async function removeUser(hub: HubContext, user: UserRow, by: string): Promise<void> {
  const stopping = new HubError(400, `${user.name}'s server is in the process of stopping, please wait.`);
  const runtimes = hub.servers.forUser(user.id);
  if (runtimes.some((rt) => rt.phase === 'stopping')) throw stopping;
  if (runtimes.length) {
    const stopped = Promise.all(runtimes.map((rt) => hub.servers.stop(rt))).then(() => 'done' as const);
    if ((await Promise.race([stopped, delay(hub.config.hub.slow_stop_timeout * 1000)])) === 'timeout') throw stopping;
  }
  const rows = await hub.db.selectFrom('spawners').select('name').where('user_id', '=', user.id).execute();
  for (const { name: server } of rows) await hub.servers.deleteForever(user, server);
  await hub.authenticator.deleteUser?.(user.name).catch((err: unknown) => hub.log.warn({ err, user: user.name }, 'the authenticator could not forget the user'));
  await deleteUserRow(hub.db, user.id);
  hub.identities.invalidate();
  hub.log.info({ by, user: user.name }, 'user deleted');
}
