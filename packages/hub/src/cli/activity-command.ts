import path from 'node:path';
import type { TshubConfig } from '../config/schema.js';
import { openDatabase } from '../db/open-database.js';
import { migrateToLatest } from '../db/migrate.js';
import { activityReport, parseReportRange, type ActivityReport } from '../services/activity-report.js';

export interface ActivityOptions {
  from?: string;
  to?: string;
  bucket?: string;
  json?: boolean;
}

/** `tshub activity`: opens the database as `tshub migrate` does and prints the report. */
export async function activityCommand(config: TshubConfig, opts: ActivityOptions, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  // Bad options fail before the database is opened.
  const range = parseReportRange(opts);
  const db = await openDatabase({ dbUrl: config.hub.db_url || process.env.TSHUB_DB_URL || '', dataDir: path.resolve(config.hub.data_dir) });
  let report: ActivityReport;
  try {
    await migrateToLatest(db.db);
    report = await activityReport(db.db, range);
  } finally {
    await db.close();
  }
  out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
}

/** A plain-text table: a header row, then rows; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n') + '\n';
}

const secs = (n: number | null) => (n === null ? '-' : `${n}s`);

/** Seconds as `1h 02m`, `3m 05s` or `12s`. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** The human-readable report. */
export function formatReport(r: ActivityReport): string {
  const parts: string[] = [];
  const t = r.totals;
  parts.push(`Activity from ${r.from} to ${r.to} (by ${r.bucket}, UTC)\n`);
  parts.push(table(['', ''], [
    ['Active users', t.active_users],
    ['Logins', t.logins],
    ['Failed logins', t.login_failures],
    ['Spawn requests', t.spawn_requests],
    ['Spawns', r.spawns.count],
    ['Spawn failures', Object.values(r.failures).reduce((a, b) => a + b, 0)],
    ['Throttled spawns', t.spawns_throttled],
    ['Culls', Object.values(r.culls).reduce((a, b) => a + b, 0)],
  ]).split('\n').slice(1).join('\n'));
  parts.push('Spawn time (request to ready)\n' + table(['COUNT', 'P50', 'P90', 'P99', 'MEAN', 'MAX'], [
    [String(r.spawns.count), secs(r.spawns.p50), secs(r.spawns.p90), secs(r.spawns.p99), secs(r.spawns.mean), secs(r.spawns.max)],
  ]));
  const byReason = (title: string, bag: Record<string, number>) => {
    const rows = Object.entries(bag).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    parts.push(rows.length ? `${title}\n` + table(['REASON', 'COUNT'], rows) : `${title}: none\n`);
  };
  byReason('Spawn failures by reason', r.failures);
  byReason('Culls by reason', r.culls);
  byReason('Stops by reason', r.stops);
  const series = r.active_users.map((a, i) => [a.time.replace('T', ' ').replace(/:00Z$/, 'Z'), a.count, r.running_servers[i]?.count ?? 0] as [string, number, number]);
  parts.push(`Per ${r.bucket}\n` + table([r.bucket.toUpperCase() + ' (UTC)', 'ACTIVE USERS', 'RUNNING SERVERS'], series));
  parts.push(r.users.length
    ? 'Users\n' + table(['USER', 'LOGINS', 'SPAWNS', 'FAILURES', 'CULLS', 'SERVER TIME', 'LAST SEEN'],
      r.users.map((u) => [u.name, u.logins, u.spawns, u.failures, u.culls, duration(u.server_seconds), u.last_seen ?? '-']))
    : 'Users: none\n');
  return parts.join('\n');
}
