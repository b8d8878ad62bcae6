import { sql, type Kysely } from 'kysely';

/**
 * JupyterHub 5 sharing: shares (a user's server shared with one user or one group, with scopes
 * filtered to that server) and share codes (hashed, expiring invitations that turn into a share for
 * whoever accepts them). Frozen in time: never import hub code here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const now = sql`now()`;
  await db.schema
    .createTable('shares')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('spawner_id', 'integer', (c) => c.notNull().references('spawners.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('group_id', 'integer', (c) => c.references('groups.id').onDelete('cascade'))
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    // One share per (server, user) and per (server, group); NULLs do not collide.
    .addUniqueConstraint('shares_spawner_user', ['spawner_id', 'user_id'])
    .addUniqueConstraint('shares_spawner_group', ['spawner_id', 'group_id'])
    .addCheckConstraint('shares_one_grantee', sql`(user_id is null) <> (group_id is null)`)
    .execute();
  await db.schema.createIndex('shares_user').on('shares').column('user_id').execute();
  await db.schema.createIndex('shares_group').on('shares').column('group_id').execute();

  await db.schema
    .createTable('share_codes')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('spawner_id', 'integer', (c) => c.notNull().references('spawners.id').onDelete('cascade'))
    // sha256 of the code; the code itself is shown once, when it is created.
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('exchange_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_exchanged_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('share_codes_spawner').on('share_codes').column('spawner_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('share_codes').ifExists().execute();
  await db.schema.dropTable('shares').ifExists().execute();
}
