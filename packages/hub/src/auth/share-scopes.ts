import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { splitScope } from './scopes.js';

/**
 * Scopes granted through JupyterHub 5 shares. A share's scopes always carry the filter of the shared
 * server (`access:servers!server=alice/`); the filter is re-derived from the current owner and server
 * names whenever a share is read, so a renamed owner does not leave stale (or misdirected) grants.
 */

/** `!server=<owner>/<server>` without the `!`. */
export const serverFilter = (owner: string, server: string) => `server=${owner}/${server}`;

/**
 * JupyterHub's `Share._apply_filter`: every scope is restricted to the shared server. A scope that
 * already names that server is kept; one with any other filter is refused (the error message is the
 * API's 400). Sorted and de-duplicated.
 */
export function filterShareScopes(scopes: readonly string[], owner: string, server: string): string[] {
  const wanted = serverFilter(owner, server);
  const out = new Set<string>();
  for (const scope of scopes) {
    const { base, filter } = splitScope(scope);
    if (filter && filter !== wanted) throw new Error(`!${filter} not allowed on sharing ${scope}, only !${wanted}`);
    out.add(`${base}!${wanted}`);
  }
  return [...out].sort();
}

/** Stored share scopes re-filtered to the server's current names (never throws). */
export function resolveShareScopes(stored: readonly string[], owner: string, server: string): string[] {
  const filter = serverFilter(owner, server);
  return [...new Set(stored.map((s) => `${splitScope(s).base}!${filter}`))].sort();
}

/**
 * The scopes shares give user `userId`: shares made to the user directly and to any group the user
 * belongs to, each filtered to its server. One query.
 */
export async function shareScopes(db: Kysely<Database>, userId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('shares')
    .innerJoin('spawners', 'spawners.id', 'shares.spawner_id')
    .innerJoin('users as owner', 'owner.id', 'spawners.user_id')
    .select(['shares.scopes', 'spawners.name as server', 'owner.name as owner'])
    .where((eb) =>
      eb.or([
        eb('shares.user_id', '=', userId),
        eb('shares.group_id', 'in', eb.selectFrom('user_groups').select('group_id').where('user_groups.user_id', '=', userId)),
      ]),
    )
    .execute();
  const out = new Set<string>();
  for (const r of rows) for (const s of resolveShareScopes(r.scopes, r.owner, r.server)) out.add(s);
  return [...out].sort();
}
