import { sql, type Kysely } from 'kysely';

/**
 * RBAC roles with their holders (users, groups, services), and services (from config or added at
 * runtime). Frozen in time: never import hub code here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('services')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('url', 'text')
    .addColumn('info', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('display', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('oauth_client_id', 'text')
    .addColumn('oauth_redirect_uri', 'text')
    .addColumn('oauth_no_confirm', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('oauth_client_allowed_scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // Services defined in the config file are re-synced at start-up and cannot be deleted through the API.
    .addColumn('from_config', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('roles')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('managed_by_auth', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();

  for (const [table, holder, ref] of [
    ['user_roles', 'user_id', 'users.id'],
    ['group_roles', 'group_id', 'groups.id'],
    ['service_roles', 'service_id', 'services.id'],
  ] as const) {
    await db.schema
      .createTable(table)
      .addColumn(holder, 'integer', (c) => c.notNull().references(ref).onDelete('cascade'))
      .addColumn('role_id', 'integer', (c) => c.notNull().references('roles.id').onDelete('cascade'))
      .addPrimaryKeyConstraint(`${table}_pk`, [holder, 'role_id'])
      .execute();
  }
  await db.schema.createIndex('api_tokens_service').on('api_tokens').column('service_name').execute();
  // GET /users?sort=[-]last_activity: JupyterHub 5 puts NULLs first ascending / last descending, ties by id.
  await sql`create index users_last_activity on users (last_activity asc nulls first, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_last_activity').ifExists().execute();
  await db.schema.dropIndex('api_tokens_service').ifExists().execute();
  for (const table of ['service_roles', 'group_roles', 'user_roles', 'roles', 'services']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
