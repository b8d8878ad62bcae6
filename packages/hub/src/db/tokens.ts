import type { Kysely } from 'kysely';
import { hashSecret, newToken } from '../auth/secrets.js';
import type { Database, TokenRow } from './schema.js';

export interface NewTokenSpec {
  userId: number | null;
  serviceName?: string | null;
  note?: string;
  scopes: string[];
  expiresAt?: Date | null;
  clientId?: string | null;
  sessionId?: string | null;
  spawnerId?: number | null;
  /** A known secret (config api_tokens); generated when absent. */
  secret?: string;
}

/** Stores a token (hashed) and returns its row id and the secret, which is never stored. */
export async function insertToken(db: Kysely<Database>, spec: NewTokenSpec): Promise<{ id: number; token: string }> {
  const token = spec.secret ?? newToken();
  const row = await db
    .insertInto('api_tokens')
    .values({
      user_id: spec.userId,
      service_name: spec.serviceName ?? null,
      hashed: hashSecret(token),
      prefix: token.slice(0, 4),
      note: spec.note ?? '',
      scopes: JSON.stringify(spec.scopes),
      expires_at: spec.expiresAt ?? null,
      client_id: spec.clientId ?? null,
      session_id: spec.sessionId ?? null,
      spawner_id: spec.spawnerId ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, token };
}

export async function findTokenBySecret(db: Kysely<Database>, secret: string): Promise<TokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('hashed', '=', hashSecret(secret)).executeTakeFirst();
}

export async function touchToken(db: Kysely<Database>, id: number, when: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_activity: when }).where('id', '=', id).execute();
}
