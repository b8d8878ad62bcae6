import { Migrator } from 'kysely/migration';
import type { Kysely } from 'kysely';
import { migrationProvider, migrations } from '@tshub/migrations';
import { HubError } from '@tshub/plugin-api';

/**
 * Brings the schema up to date. Refuses, with a message a person can act on, a database that holds
 * migrations this code does not know (it was written by a newer tshub).
 */
export async function migrateToLatest(db: Kysely<any>): Promise<{ applied: string[] }> {
  const known = new Set(Object.keys(migrations));
  const applied = await db
    .selectFrom('kysely_migration')
    .select('name')
    .execute()
    .catch(() => [] as { name: string }[]);
  const unknown = applied.map((r) => String(r.name)).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new HubError(
      500,
      `The database was created by a newer tshub (it has migrations ${unknown.join(', ')} that this version does not know). ` +
        'Upgrade tshub, or point hub.db_url at another database.',
    );
  }
  const migrator = new Migrator({ db, provider: migrationProvider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
