import type { Kysely } from 'kysely';
import { SpawnError } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import { serverTokenScopes } from '../auth/roles.js';
import type { Database } from '../db/schema.js';
import { insertToken } from '../db/tokens.js';
import { urlEscapePath } from '../url-escape.js';

/** `jupyterhub-user-<name>[-<server>]`: the OAuth client id and the server's cookie name. */
export function serverClientId(user: string, server: string): string {
  // JupyterHub uses quote(name), not escaped_name: '@' is legal in URLs but not in cookie names
  // (Python's SimpleCookie raises "Illegal key" in singleuser's oauth_callback).
  const quote = (s: string) => urlEscapePath(s).replace(/@/g, '%40');
  return `jupyterhub-user-${quote(user)}${server ? '-' + quote(server) : ''}`;
}

/**
 * Issues a fresh API token for a server and (re)registers its OAuth client with that token as the
 * secret, replacing any left from an earlier start. Returns the token secret and the client id for
 * the server's env.
 *
 * The client id is JupyterHub's (serverClientId) unless another server already holds it: user
 * `alice-x`'s default server and alice's server `x` both map to `jupyterhub-user-alice-x`. Escaping
 * '-' would change the id (and so the cookie name) of every server whose user name has a dash, so
 * only the later server of a clashing pair gets `!<spawner id>` appended. urlEscapePath always
 * escapes '!', so no unsuffixed id contains one, and the spawner id makes the suffixed id unique;
 * '!' is legal in cookie names (RFC 6265 token, Python's SimpleCookie) and jupyterhub-singleuser
 * uses whatever JUPYTERHUB_CLIENT_ID says. The insert itself detects the clash (ON CONFLICT), so
 * two clashing servers starting at once cannot both take the plain id.
 */
export async function issueServerCredentials(
  db: Kysely<Database>,
  /** `url`: the server's public URL (its path, or absolute on its own host with subdomain_host). */
  s: { userId: number; user: string; server: string; spawnerId: number; url: string },
): Promise<{ token: string; clientId: string }> {
  return db.transaction().execute(async (tx) => {
    await revokeServerCredentials(tx, s.spawnerId);
    const { token } = await insertToken(tx, {
      userId: s.userId,
      note: `Server at ${s.url}`,
      scopes: serverTokenScopes(s.user, s.server),
      spawnerId: s.spawnerId,
    });
    const base = serverClientId(s.user, s.server);
    for (const clientId of [base, `${base}!${s.spawnerId}`]) {
      const inserted = await tx
        .insertInto('oauth_clients')
        .values({
          identifier: clientId,
          secret_hash: hashSecret(token),
          redirect_uri: `${s.url}oauth_callback`,
          description: `Server at ${s.url}`,
          allowed_scopes: JSON.stringify([`access:servers!server=${s.user}/${s.server}`]),
          spawner_id: s.spawnerId,
        })
        .onConflict((oc) => oc.column('identifier').doNothing())
        .returning('identifier')
        .executeTakeFirst();
      if (inserted) return { token, clientId };
    }
    // Only a service configured with this exact oauth_client_id can get here.
    throw new SpawnError('oauth-client-clash', `The OAuth client id ${base} of this server is already used by another server or service; an administrator must change the clashing service's oauth_client_id.`);
  });
}

/**
 * Deletes a server's API token, its OAuth client and every OAuth token and code issued through that
 * client, so visitors of a stopped server must log in again (JupyterHub does the same). The client
 * is found by its spawner, never by the id alone: an id can be another server's (see issueServerCredentials).
 */
export async function revokeServerCredentials(db: Kysely<Database>, spawnerId: number): Promise<void> {
  const clients = await db.selectFrom('oauth_clients').select('identifier').where('spawner_id', '=', spawnerId).execute();
  const ids = clients.map((c) => c.identifier);
  await db.deleteFrom('api_tokens').where((eb) => (ids.length ? eb.or([eb('spawner_id', '=', spawnerId), eb('client_id', 'in', ids)]) : eb('spawner_id', '=', spawnerId))).execute();
  if (ids.length) await db.deleteFrom('oauth_codes').where('client_id', 'in', ids).execute();
  await db.deleteFrom('oauth_clients').where('spawner_id', '=', spawnerId).execute();
}
