import { sql, type Kysely } from 'kysely';

/**
 * The activity log: one row per hub event (login, logout, failed login, spawn requested / ready /
 * failed, throttled spawn, stop with its reason) and coarse per-user activity ticks. Written in
 * batches; old rows are deleted after activity_log.retention_days. Frozen in time: never import hub
 * code here.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('time', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('kind', 'text', (c) => c.notNull())
    // Names, not ids: the log outlives renamed and deleted users and servers.
    .addColumn('user_name', 'text')
    .addColumn('server_name', 'text')
    .addColumn('seconds', 'double precision')
    .addColumn('reason', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await db.schema.createIndex('events_time').on('events').column('time').execute();
  await db.schema.createIndex('events_kind_time').on('events').columns(['kind', 'time']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('events').ifExists().execute();
}
