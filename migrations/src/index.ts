import type { Migration, MigrationProvider } from 'kysely/migration';
import * as m0001 from './0001-initial.js';
import * as m0002 from './0002-roles-and-services.js';
import * as m0003 from './0003-shares.js';
import * as m0004 from './0004-events.js';

/** Every migration, in order. Names are stable: they are recorded in the database. */
export const migrations: Readonly<Record<string, Migration>> = {
  '0001-initial': m0001,
  '0002-roles-and-services': m0002,
  '0003-shares': m0003,
  '0004-events': m0004,
};

/** A Kysely MigrationProvider over the static list (no file-system scanning, works from any cwd). */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return { ...migrations };
  },
};
