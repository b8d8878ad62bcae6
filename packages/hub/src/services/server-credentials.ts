import type { Kysely } from 'kysely';
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
 * secret, replacing any left from an earlier start. Returns the token secret for the server's env.
 */
export async function issueServerCredentials(
  db: Kysely<Database>,
  s: { userId: number; user: string; server: string; spawnerId: number; prefix: string },
): Promise<{ token: string; clientId: string }> {
  const clientId = serverClientId(s.user, s.server);
  return db.transaction().execute(async (tx) => {
    await revokeServerCredentials(tx, s.spawnerId, clientId);
    const { token } = await insertToken(tx, {
      userId: s.userId,
      note: `Server at ${s.prefix}`,
      scopes: serverTokenScopes(s.user, s.server),
      spawnerId: s.spawnerId,
    });
    await tx
      .insertInto('oauth_clients')
      .values({
        identifier: clientId,
        secret_hash: hashSecret(token),
        redirect_uri: `${s.prefix}oauth_callback`,
        description: `Server at ${s.prefix}`,
        allowed_scopes: JSON.stringify([`access:servers!server=${s.user}/${s.server}`]),
        spawner_id: s.spawnerId,
      })
      .execute();
    return { token, clientId };
  });
}

/**
 * Deletes a server's API token, its OAuth client and every OAuth token issued through that client, so
 * visitors of a stopped server must log in again (JupyterHub does the same).
 */
export async function revokeServerCredentials(db: Kysely<Database>, spawnerId: number, clientId: string): Promise<void> {
  await db.deleteFrom('api_tokens').where((eb) => eb.or([eb('spawner_id', '=', spawnerId), eb('client_id', '=', clientId)])).execute();
  await db.deleteFrom('oauth_codes').where('client_id', '=', clientId).execute();
  await db.deleteFrom('oauth_clients').where((eb) => eb.or([eb('identifier', '=', clientId), eb('spawner_id', '=', spawnerId)])).execute();
}
