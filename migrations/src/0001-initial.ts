import { sql, type Kysely } from 'kysely';

/**
 * Users, groups, user servers (spawners), API/OAuth tokens, OAuth clients and codes, login sessions and
 * the plugin key-value store. Frozen in time: never import hub code here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const now = sql`now()`;
  await db.schema
    .createTable('users')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('last_activity', 'timestamptz')
    .addColumn('auth_state', 'text')
    .execute();

  await db.schema
    .createTable('groups')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('properties', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();

  await db.schema
    .createTable('user_groups')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
    .execute();
  await db.schema.createIndex('user_groups_group').on('user_groups').column('group_id').execute();

  await db.schema
    .createTable('spawners')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('user_options', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // Where the running server listens; null when it is not running.
    .addColumn('url', 'text')
    .addColumn('started', 'timestamptz')
    .addColumn('last_activity', 'timestamptz')
    .addUniqueConstraint('spawners_user_name', ['user_id', 'name'])
    .execute();
  await db.schema.createIndex('spawners_started').on('spawners').column('started').execute();

  await db.schema
    .createTable('oauth_clients')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('identifier', 'text', (c) => c.notNull().unique())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('allowed_scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('spawner_id', 'integer', (c) => c.references('spawners.id').onDelete('cascade'))
    .addColumn('service_name', 'text')
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('service_name', 'text')
    // sha256 of the secret: generated secrets carry 128 random bits, so one round is enough.
    .addColumn('hashed', 'text', (c) => c.notNull().unique())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('last_activity', 'timestamptz')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('client_id', 'text')
    .addColumn('session_id', 'text')
    .addColumn('spawner_id', 'integer', (c) => c.references('spawners.id').onDelete('cascade'))
    .execute();
  await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();
  await db.schema.createIndex('api_tokens_session').on('api_tokens').column('session_id').execute();
  await db.schema.createIndex('api_tokens_client').on('api_tokens').column('client_id').execute();

  await db.schema
    .createTable('oauth_codes')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('redirect_uri', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('session_id', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    // sha256 of the random session secret that the signed login cookie carries.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(now))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();

  await db.schema
    .createTable('plugin_data')
    .addColumn('plugin', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('plugin_data_pk', ['plugin', 'key'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['plugin_data', 'sessions', 'oauth_codes', 'api_tokens', 'oauth_clients', 'spawners', 'user_groups', 'groups', 'users']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
