import { sql, type Insertable, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ActivityLogConfig } from '../config/schema.js';
import type { Database, EventsTable } from '../db/schema.js';
import type { HubEventMap, HubEvents } from './hub-events.js';

/** The hub events that become rows of the activity log (and structured event log lines). */
export const LOGGED_EVENTS = [
  'login', 'logout', 'login-failed', 'spawn-requested', 'spawn-ready', 'spawn-failed', 'spawn-throttled', 'stop',
] as const satisfies readonly (keyof HubEventMap)[];

/** Every `kind` the events table holds: the logged hub events plus the per-user activity ticks. */
export type EventKind = (typeof LOGGED_EVENTS)[number] | 'activity';

export interface ActivityLogOptions {
  db: Kysely<Database>;
  log: Logger;
  events: HubEvents;
  config: ActivityLogConfig;
  /** How often buffered rows are written (default 2 s). */
  flushMs?: number;
  /** A buffer this full is written at once (default 500 rows). */
  batchSize?: number;
}

type EventRow = Insertable<EventsTable>;

/** Longest text kept in a column or a detail value (names typed at a login form are not trusted). */
const MAX_TEXT = 2000;
/** Rows kept while the database is failing; older ones are dropped beyond this. */
const MAX_PENDING = 10_000;
const DAY_MS = 86_400_000;

const clip = (s: string) => (s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s);
const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The activity log: subscribes to the hub's events and
 *  - logs one structured line per event at info, `{event: kind, user, server, seconds, reason}` (always,
 *    so a deployment can ship them even with the table disabled);
 *  - when `activity_log.enabled`, buffers a row per event and writes the buffer in one multi-row
 *    INSERT every `flushMs` or `batchSize` rows (never a write on a request's path), and on close;
 *  - records per-user activity ticks, at most one per user per `tick_minutes`: from recordActivity()
 *    and from a periodic INSERT ... SELECT of the users whose last_activity moved since the last run;
 *  - deletes rows older than `retention_days` at start and daily.
 */
export class ActivityLog {
  readonly #db: Kysely<Database>;
  readonly #log: Logger;
  readonly #config: ActivityLogConfig;
  readonly #batchSize: number;
  readonly #tickMs: number;
  readonly #unsubscribe: Array<() => void> = [];
  readonly #timers: NodeJS.Timeout[] = [];
  /** user -> time (ms) of the last activity tick recorded for them by this process. */
  readonly #lastTick = new Map<string, number>();
  #buffer: EventRow[] = [];
  #writing: Promise<void> = Promise.resolve();
  readonly #jobs = new Set<Promise<unknown>>();
  #tickSince: Date;
  #closed = false;
  /** Rows given up on (database away for long, or failing at close). */
  #dropped = 0;

  private constructor(opts: ActivityLogOptions) {
    this.#db = opts.db;
    this.#log = opts.log;
    this.#config = opts.config;
    this.#batchSize = Math.max(1, opts.batchSize ?? 500);
    this.#tickMs = Math.max(1, opts.config.tick_minutes) * 60_000;
    this.#tickSince = new Date(Date.now() - this.#tickMs);
    for (const kind of LOGGED_EVENTS) {
      this.#unsubscribe.push(opts.events.on(kind, (data) => this.#onEvent(kind, data as unknown as Record<string, unknown>)));
    }
    if (!this.enabled) return;
    const every = (ms: number, job: () => Promise<unknown>) => {
      const timer = setInterval(() => this.#run(job), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(opts.flushMs ?? 2000, () => this.flush());
    // recordTicks looks back over at most one tick, whatever the gap between runs: a tick longer than
    // a day (beyond setInterval's range at ~24.8 days) simply runs daily.
    every(Math.min(this.#tickMs, DAY_MS), () => this.recordTicks());
    every(DAY_MS, () => this.prune());
    this.#run(() => this.prune());
  }

  /** Subscribes to `events` and starts the flush, tick and retention jobs. */
  static start(opts: ActivityLogOptions): ActivityLog {
    return new ActivityLog(opts);
  }

  get enabled(): boolean {
    return this.#config.enabled;
  }

  /**
   * Notes that `user` was active now (cheap: no database access). At most one 'activity' row per user
   * per tick_minutes comes of it, written with the next flush.
   */
  recordActivity(user: string, when: Date = new Date()): void {
    if (!this.enabled || this.#closed || !user) return;
    const t = when.getTime();
    const last = this.#lastTick.get(user);
    if (last !== undefined && t - last < this.#tickMs) return;
    if (this.#lastTick.size > 100_000) this.#lastTick.clear();
    this.#lastTick.set(user, t);
    this.#logLine('activity', { user });
    this.#push({ time: when, kind: 'activity', user_name: clip(user) });
  }

  /** Writes every buffered row (one INSERT per `batchSize` rows). Resolves when they are written or given up. */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  /**
   * The derived activity ticks: one INSERT ... SELECT of an 'activity' row for each user whose
   * last_activity moved since the previous run and who has no 'activity' row in that window.
   * Returns how many rows it wrote.
   */
  async recordTicks(now: Date = new Date()): Promise<number> {
    if (!this.enabled || this.#closed) return 0;
    await this.flush();
    const since = this.#tickSince;
    // Never look further back than one tick (a clock jump or a long pause must not replay history).
    const from = new Date(Math.max(since.getTime(), now.getTime() - this.#tickMs));
    this.#tickSince = now;
    const { rows } = await sql<{ user_name: string }>`
      insert into events (time, kind, user_name)
      select least(u.last_activity, ${now}::timestamptz), 'activity', u.name
      from users u
      where u.last_activity > ${from}::timestamptz
        and not exists (
          select 1 from events e
          where e.kind = 'activity' and e.user_name = u.name and e.time > ${new Date(now.getTime() - this.#tickMs)}::timestamptz
        )
      returning user_name`.execute(this.#db);
    for (const r of rows) {
      this.#lastTick.set(r.user_name, now.getTime());
      this.#logLine('activity', { user: r.user_name });
    }
    return rows.length;
  }

  /** Deletes rows older than retention_days (none when it is 0). Returns how many it deleted. */
  async prune(now: Date = new Date()): Promise<number> {
    const days = this.#config.retention_days;
    if (!this.enabled || this.#closed || !(days > 0)) return 0;
    const cutoff = new Date(now.getTime() - days * DAY_MS);
    const res = await this.#db.deleteFrom('events').where('time', '<', cutoff).executeTakeFirst();
    const deleted = Number(res.numDeletedRows);
    if (deleted > 0) this.#log.info({ deleted, retention_days: days }, 'activity log: deleted old events');
    return deleted;
  }

  /** Stops listening and the jobs, then writes what is buffered. Call before the database closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    await Promise.all([...this.#jobs]);
    this.#closed = true;
    await this.flush();
  }

  #onEvent(kind: EventKind, data: Record<string, unknown>): void {
    const { user, server, seconds, reason, ...rest } = data;
    this.#logLine(kind, data);
    if (!this.enabled || this.#closed) return;
    const detail: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) detail[k] = typeof v === 'string' ? clip(v) : v;
    const row: EventRow = {
      time: new Date(),
      kind,
      user_name: typeof user === 'string' ? clip(user) : null,
      server_name: typeof server === 'string' ? clip(server) : null,
      seconds: typeof seconds === 'number' && Number.isFinite(seconds) ? seconds : null,
      reason: typeof reason === 'string' ? clip(reason) : null,
      detail: JSON.stringify(detail),
    };
    this.#push(row);
  }

  /** The structured event line: a stable `event` field plus who, which server, how long and why. */
  #logLine(kind: EventKind, data: Record<string, unknown>): void {
    const line: Record<string, unknown> = { event: kind };
    for (const [k, v] of Object.entries(data)) {
      if (k === 'event' || k === 'msg' || v === undefined) continue;
      line[k] = k === 'seconds' && typeof v === 'number' ? round3(v) : typeof v === 'string' ? clip(v) : v;
    }
    this.#log.info(line, `event ${kind}`);
  }

  #push(row: EventRow): void {
    // While the database is away the buffer is bounded: the oldest rows go first.
    if (this.#buffer.length >= MAX_PENDING) {
      this.#buffer.shift();
      this.#dropped++;
    }
    this.#buffer.push(row);
    // Once per filling: the flush then drains whatever has arrived meanwhile.
    if (this.#buffer.length === this.#batchSize) this.#run(() => this.flush());
  }

  /** Runs a background job; its failure is logged, never thrown. */
  #run(job: () => Promise<unknown>): void {
    const p: Promise<unknown> = job()
      .catch((err) => this.#log.warn({ err: String(err) }, 'activity log: background job failed'))
      .finally(() => this.#jobs.delete(p));
    this.#jobs.add(p);
  }

  async #write(): Promise<void> {
    while (this.#buffer.length > 0) {
      const batch = this.#buffer.splice(0, this.#batchSize);
      try {
        await this.#db.insertInto('events').values(batch).execute();
      } catch (err) {
        // Keep the rows for the next flush (the next interval) while the database is away, up to a bound.
        if (this.#closed) this.#dropped += batch.length;
        else this.#buffer.unshift(...batch);
        const over = this.#buffer.length - MAX_PENDING;
        if (over > 0) {
          this.#buffer.splice(0, over);
          this.#dropped += over;
        }
        this.#log.warn({ err: String(err), pending: this.#buffer.length, dropped: this.#dropped }, 'activity log: could not write events');
        return;
      }
    }
  }
}
