import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { findTokenBySecret, insertToken } from '../db/tokens.js';
import { ensureUser } from '../db/users.js';

/**
 * Loads JupyterHub's `api_tokens` (secret -> user name): each secret is stored hashed as a token with
 * the owner's full permissions; the user is created if missing. Idempotent across restarts.
 */
export async function ensureApiTokens(db: Kysely<Database>, tokens: Readonly<Record<string, string>>): Promise<void> {
  for (const [secret, name] of Object.entries(tokens)) {
    if (secret.length < 8) throw new Error(`hub.api_tokens: the token for ${name} is too short (at least 8 characters)`);
    const user = await ensureUser(db, name);
    const existing = await findTokenBySecret(db, secret);
    if (existing) {
      if (existing.user_id !== user.id) throw new Error(`hub.api_tokens: a token is configured for ${name} but already belongs to another owner`);
      continue;
    }
    await insertToken(db, { userId: user.id, note: 'from config', scopes: ['inherit'], secret });
  }
}
