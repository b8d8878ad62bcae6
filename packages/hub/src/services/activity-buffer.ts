import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema.js';

const CHUNK = 2000;

/**
 * Moves spawners' and users' last_activity forward (never back) in one UPDATE ... FROM (VALUES ...)
 * per table and 2,000 rows, whatever the number of servers.
 */
export async function writeActivity(db: Kysely<Database>, bySpawner: ReadonlyMap<number, Date>, byUser: ReadonlyMap<number, Date>): Promise<number> {
  let statements = 0;
  for (const [table, values] of [['spawners', bySpawner], ['users', byUser]] as const) {
    const rows = [...values];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const list = sql.join(rows.slice(i, i + CHUNK).map(([id, when]) => sql`(${id}::integer, ${when.toISOString()}::timestamptz)`));
      await sql`
        UPDATE ${sql.table(table)} AS t SET last_activity = v.ts
        FROM (VALUES ${list}) AS v(id, ts)
        WHERE t.id = v.id AND (t.last_activity IS NULL OR t.last_activity < v.ts)`.execute(db);
      statements++;
    }
  }
  return statements;
}

/**
 * Coalesces activity reports (POST /users/:name/activity) so that many servers reporting often cost
 * a bounded number of writes: reports are merged in memory (newest wins) and written every
 * `flushMs` in one batch. The database value of last_activity is therefore at most `flushMs` stale;
 * the in-memory runtimes (which the API and the culler read) are updated at once.
 */
export class ActivityBuffer {
  #spawners = new Map<number, Date>();
  #users = new Map<number, Date>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();
  /** Statements written so far (for tests and metrics). */
  statements = 0;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly log: Logger,
    readonly flushMs: number,
  ) {}

  recordUser(userId: number, when: Date): void {
    this.#bump(this.#users, userId, when);
  }

  recordServer(spawnerId: number, when: Date): void {
    this.#bump(this.#spawners, spawnerId, when);
  }

  #bump(m: Map<number, Date>, id: number, when: Date): void {
    const old = m.get(id);
    if (!old || old < when) m.set(id, when);
    this.#timer ??= setTimeout(() => void this.flush(), this.flushMs);
    this.#timer.unref();
  }

  /** Writes what is buffered now (also called on hub close). */
  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const spawners = this.#spawners;
    const users = this.#users;
    this.#spawners = new Map();
    this.#users = new Map();
    if (!spawners.size && !users.size) return this.#flushing;
    this.#flushing = this.#flushing
      .then(async () => {
        this.statements += await writeActivity(this.db, spawners, users);
      })
      .catch((err) => this.log.warn({ err: String(err) }, 'could not write activity'));
    return this.#flushing;
  }
}
