import { sql, type Kysely } from 'kysely';
import { HubError } from '@tshub/plugin-api';
import type { Database } from '../db/schema.js';
import { isoformat, parseTimestamp } from '../isoformat.js';

export type ReportBucket = 'hour' | 'day';

export interface ReportRange {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  bucket: ReportBucket;
}

export interface BucketCount {
  /** The bucket's start (UTC). */
  time: string;
  count: number;
}

export interface SpawnStats {
  /** Successful spawns (spawn-ready events). */
  count: number;
  /** Seconds from request to ready; null when there were none. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  mean: number | null;
  max: number | null;
}

export interface UserSummary {
  name: string;
  logins: number;
  /** Successful spawns. */
  spawns: number;
  /** Failed spawns. */
  failures: number;
  culls: number;
  /** Seconds the user's servers ran within the range (from spawn-ready to stop). */
  server_seconds: number;
  /** The user's last event in the range, or null (a server running through the whole range). */
  last_seen: string | null;
}

/** What GET /hub/api/activity and `tshub activity` report. */
export interface ActivityReport {
  from: string;
  to: string;
  bucket: ReportBucket;
  /** Distinct users with a login, spawn or activity event, per bucket. */
  active_users: BucketCount[];
  /** Distinct servers whose ready..stop interval overlaps the bucket (within the range). */
  running_servers: BucketCount[];
  spawns: SpawnStats;
  /** Failed spawns by reason. */
  failures: Record<string, number>;
  /** Culled servers (stops with reason 'cull') by the culler's `cull_reason` (idle, max_age), else 'unspecified'. */
  culls: Record<string, number>;
  /** Every stop by reason (request, died, cull, shutdown). */
  stops: Record<string, number>;
  totals: {
    active_users: number;
    logins: number;
    login_failures: number;
    logouts: number;
    spawn_requests: number;
    spawns_throttled: number;
  };
  users: UserSummary[];
}

/** The longest range a report covers. */
export const MAX_RANGE_DAYS = 400;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const BUCKET_MS: Record<ReportBucket, number> = { hour: HOUR_MS, day: DAY_MS };
/** Kinds that make a user count as active. */
const ACTIVE_KINDS = ['login', 'spawn-requested', 'spawn-ready', 'activity'];

/** An ISO 8601 timestamp (zone-less is UTC) or a bare date `YYYY-MM-DD` (midnight UTC); null if neither. */
export function parseReportTime(value: string): Date | null {
  const v = value.trim();
  return parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
}

/**
 * Validates a report's `from`, `to` and `bucket` (query parameters or CLI options). Defaults: `to` =
 * now, `from` = one day before `to` (with `bucket=hour`) or 30 days before (with `bucket=day`);
 * `bucket` = hour. Throws a 400 HubError a person can act on.
 */
export function parseReportRange(q: { from?: unknown; to?: unknown; bucket?: unknown }, now: Date = new Date()): ReportRange {
  const time = (name: 'from' | 'to', v: unknown): Date | null => {
    if (v === undefined || v === '') return null;
    const d = typeof v === 'string' ? parseReportTime(v) : null;
    if (!d) throw new HubError(400, `${name} must be an ISO 8601 timestamp (e.g. 2024-05-01T00:00:00Z) or a date (2024-05-01)`);
    return d;
  };
  let bucket: ReportBucket = 'hour';
  if (q.bucket !== undefined && q.bucket !== '') {
    if (q.bucket !== 'hour' && q.bucket !== 'day') throw new HubError(400, "bucket must be 'hour' or 'day'");
    bucket = q.bucket;
  }
  const to = time('to', q.to) ?? now;
  const from = time('from', q.from) ?? new Date(to.getTime() - (bucket === 'day' ? 30 : 1) * DAY_MS);
  if (from.getTime() >= to.getTime()) throw new HubError(400, 'from must be before to');
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) throw new HubError(400, `The range must not be longer than ${MAX_RANGE_DAYS} days`);
  return { from, to, bucket };
}

const round3 = (n: number | null): number | null => (n === null || n === undefined ? null : Math.round(Number(n) * 1000) / 1000);

/** The bucket starts (UTC-aligned) covering [from, to). */
export function bucketStarts(range: ReportRange): number[] {
  const size = BUCKET_MS[range.bucket];
  const out: number[] = [];
  for (let t = Math.floor(range.from.getTime() / size) * size; t < range.to.getTime(); t += size) out.push(t);
  return out;
}

interface ServerInterval {
  user: string;
  server: string;
  start: number;
  end: number;
}

/**
 * Server run intervals overlapping [from, to): each spawn-ready paired with the next spawn-ready or
 * stop of the same server; a server still running at `to` (or now) runs until then.
 */
async function serverIntervals(db: Kysely<Database>, range: ReportRange, now: Date): Promise<ServerInterval[]> {
  const { rows } = await sql<{ user_name: string; server_name: string | null; time: Date; next_time: Date | null }>`
    select user_name, server_name, time, next_time from (
      select user_name, server_name, kind, time,
        lead(time) over (partition by user_name, server_name order by time, id) as next_time
      from events
      where kind in ('spawn-ready', 'stop') and time < ${range.to}::timestamptz and user_name is not null
    ) s
    where kind = 'spawn-ready' and (next_time is null or next_time > ${range.from}::timestamptz)`.execute(db);
  const openEnd = Math.min(range.to.getTime(), Math.max(now.getTime(), range.from.getTime()));
  return rows.map((r) => ({
    user: r.user_name,
    server: r.server_name ?? '',
    start: new Date(r.time).getTime(),
    end: r.next_time ? new Date(r.next_time).getTime() : openEnd,
  }));
}

/** Counts distinct servers per bucket and each user's server time, clipped to the range. */
function runningServers(range: ReportRange, starts: number[], intervals: ServerInterval[]) {
  const size = BUCKET_MS[range.bucket];
  const counts = starts.map(() => 0);
  const first = starts[0] ?? range.from.getTime();
  const lastCounted = new Map<string, number>();
  const userSeconds = new Map<string, number>();
  const from = range.from.getTime();
  const to = range.to.getTime();
  for (const iv of intervals.sort((a, b) => a.start - b.start)) {
    const s = Math.max(iv.start, from);
    const e = Math.min(iv.end, to);
    if (s >= to || e < s || (e === s && iv.end > iv.start)) continue;
    userSeconds.set(iv.user, (userSeconds.get(iv.user) ?? 0) + (e - s) / 1000);
    const key = `${iv.user}\u0000${iv.server}`;
    const lo = Math.max(Math.floor((s - first) / size), (lastCounted.get(key) ?? -1) + 1);
    // A zero-length run still counts in the bucket it happened in.
    const hi = Math.min(counts.length - 1, e > s ? Math.ceil((e - first) / size) - 1 : Math.floor((s - first) / size));
    for (let i = lo; i <= hi; i++) counts[i]! += 1;
    if (hi >= lo) lastCounted.set(key, hi);
  }
  return { counts, userSeconds };
}

/** Aggregates the events of [from, to) into an activity report. Works on Postgres and PGlite. */
export async function activityReport(db: Kysely<Database>, range: ReportRange, now: Date = new Date()): Promise<ActivityReport> {
  const { from, to } = range;
  const unit = sql.lit(range.bucket);
  const inRange = sql`time >= ${from}::timestamptz and time < ${to}::timestamptz`;
  const starts = bucketStarts(range);

  const [active, activeTotal, spawnStats, byReason, perUser, intervals] = await Promise.all([
    sql<{ t: number; n: number }>`
      select extract(epoch from date_trunc(${unit}, time at time zone 'UTC'))::float8 as t, count(distinct user_name)::int as n
      from events
      where ${inRange} and user_name is not null and kind in (${sql.join(ACTIVE_KINDS)})
      group by 1`.execute(db),
    sql<{ n: number }>`
      select count(distinct user_name)::int as n from events
      where ${inRange} and user_name is not null and kind in (${sql.join(ACTIVE_KINDS)})`.execute(db),
    sql<{ n: number; p50: number | null; p90: number | null; p99: number | null; mean: number | null; max: number | null }>`
      select count(*)::int as n,
        percentile_cont(0.5) within group (order by seconds) as p50,
        percentile_cont(0.9) within group (order by seconds) as p90,
        percentile_cont(0.99) within group (order by seconds) as p99,
        avg(seconds)::float8 as mean,
        max(seconds)::float8 as max
      from events
      where ${inRange} and kind = 'spawn-ready' and seconds is not null`.execute(db),
    sql<{ kind: string; reason: string | null; cull_reason: string | null; n: number }>`
      select kind, reason, case when kind = 'stop' and reason = 'cull' then detail->>'cull_reason' end as cull_reason, count(*)::int as n
      from events
      where ${inRange} and kind in ('login', 'logout', 'login-failed', 'spawn-requested', 'spawn-failed', 'spawn-throttled', 'stop')
      group by 1, 2, 3`.execute(db),
    sql<{ name: string; logins: number; spawns: number; failures: number; culls: number; last_seen: Date }>`
      select user_name as name,
        count(*) filter (where kind = 'login')::int as logins,
        count(*) filter (where kind = 'spawn-ready')::int as spawns,
        count(*) filter (where kind = 'spawn-failed')::int as failures,
        count(*) filter (where kind = 'stop' and reason = 'cull')::int as culls,
        max(time) as last_seen
      from events
      where ${inRange} and user_name is not null and kind <> 'login-failed'
      group by user_name`.execute(db),
    serverIntervals(db, range, now),
  ]);

  const activeBy = new Map(active.rows.map((r) => [Math.round(Number(r.t) * 1000), Number(r.n)]));
  const { counts, userSeconds } = runningServers(range, starts, intervals);

  const failures: Record<string, number> = {};
  const culls: Record<string, number> = {};
  const stops: Record<string, number> = {};
  const totals = { active_users: Number(activeTotal.rows[0]?.n ?? 0), logins: 0, login_failures: 0, logouts: 0, spawn_requests: 0, spawns_throttled: 0 };
  const add = (bag: Record<string, number>, key: string, n: number) => (bag[key] = (bag[key] ?? 0) + n);
  for (const r of byReason.rows) {
    const n = Number(r.n);
    if (r.kind === 'spawn-failed') add(failures, r.reason ?? 'unknown', n);
    else if (r.kind === 'stop') {
      add(stops, r.reason ?? 'unknown', n);
      if (r.reason === 'cull') add(culls, r.cull_reason ?? 'unspecified', n);
    } else if (r.kind === 'login') totals.logins += n;
    else if (r.kind === 'login-failed') totals.login_failures += n;
    else if (r.kind === 'logout') totals.logouts += n;
    else if (r.kind === 'spawn-requested') totals.spawn_requests += n;
    else if (r.kind === 'spawn-throttled') totals.spawns_throttled += n;
  }

  const users = new Map<string, UserSummary>();
  for (const r of perUser.rows) {
    users.set(r.name, {
      name: r.name, logins: Number(r.logins), spawns: Number(r.spawns), failures: Number(r.failures), culls: Number(r.culls),
      server_seconds: 0, last_seen: isoformat(new Date(r.last_seen)),
    });
  }
  for (const [name, seconds] of userSeconds) {
    const u = users.get(name) ?? { name, logins: 0, spawns: 0, failures: 0, culls: 0, server_seconds: 0, last_seen: null };
    u.server_seconds = round3(seconds) ?? 0;
    users.set(name, u);
  }

  const s = spawnStats.rows[0];
  return {
    from: isoformat(from)!,
    to: isoformat(to)!,
    bucket: range.bucket,
    active_users: starts.map((t) => ({ time: isoformat(new Date(t))!, count: activeBy.get(t) ?? 0 })),
    running_servers: starts.map((t, i) => ({ time: isoformat(new Date(t))!, count: counts[i] ?? 0 })),
    spawns: {
      count: Number(s?.n ?? 0),
      p50: round3(s?.p50 ?? null),
      p90: round3(s?.p90 ?? null),
      p99: round3(s?.p99 ?? null),
      mean: round3(s?.mean ?? null),
      max: round3(s?.max ?? null),
    },
    failures,
    culls,
    stops,
    totals,
    users: [...users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}
