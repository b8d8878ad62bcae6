import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

/** An open database plus how to close it. */
export interface OpenDatabase {
  readonly db: Kysely<Database>;
  /** 'pglite' (embedded, the default) or 'postgres'. */
  readonly kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

// Return timestamptz and int8 the same way on both drivers: Date objects, and numbers for counts.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/**
 * Opens `dbUrl` (`postgres://...`) with a pg pool, or, when it is empty or `pglite:<dir>`, the embedded
 * PGlite database in `dataDir/db` (created on first use). PGlite takes about half a second to open, so
 * the hub opens it once.
 */
export async function openDatabase(opts: { dbUrl: string; dataDir: string; poolSize?: number }): Promise<OpenDatabase> {
  const { dbUrl } = opts;
  if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    const pool = new pg.Pool({ connectionString: dbUrl, max: opts.poolSize ?? 10 });
    // An idle client losing its connection (database restart) must not crash the hub.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', close: () => db.destroy() };
  }
  let dir: string | undefined;
  if (dbUrl === '' || dbUrl === 'pglite') dir = path.join(opts.dataDir, 'db');
  else if (dbUrl.startsWith('pglite:')) dir = dbUrl.slice('pglite:'.length);
  if (dir === undefined) throw new Error(`hub.db_url: unsupported database URL '${dbUrl}' (use postgres://... or pglite:<directory>)`);
  const { PGlite } = await import('@electric-sql/pglite');
  let pglite: InstanceType<typeof PGlite>;
  if (dir === 'memory:') {
    pglite = new PGlite();
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    pglite = new PGlite(dir);
  }
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}
