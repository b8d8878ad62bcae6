// The activity log: a scripted day of events comes back from GET /hub/api/activity with the right
// counts and percentiles; real logins and spawns become rows (batched); `tshub activity` prints the
// same report from the database a closed hub left behind.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { BrowserClient } from './support/browser-client.js';
import { freePort } from './support/free-port.js';
import { hasSingleuser, need } from './support/requirements.js';
import { runCli, tempDir } from './support/run-cli.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

const ADMIN = randomBytes(16).toString('hex');
const USER = randomBytes(16).toString('hex');
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Midnight UTC two days ago: the scripted day (recent enough for the default 180-day retention). */
const D = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
const at = (h: number, m = 0, s = 0) => new Date(D + h * HOUR + m * 60_000 + s * 1000);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

interface Row {
  time: Date;
  kind: string;
  user_name?: string | null;
  server_name?: string | null;
  seconds?: number | null;
  reason?: string | null;
  detail?: string;
}

/**
 * The scripted day: 10 logins by 6 users (u1..u6), 2 failed logins, 10 spawn requests, 8 spawns ready
 * in 1..8 s, 2 failed spawns ('timeout', 'command-not-found'), 7 stops (3 culls: 2 idle, 1 max_age;
 * 3 requests; 1 shutdown), activity ticks, u6's 'gpu' server still running at the end of the day, and
 * u7's events just outside the day.
 */
function scriptedDay(): Row[] {
  const rows: Row[] = [];
  const ev = (time: Date, kind: string, user: string | null, extra: Partial<Row> = {}) =>
    rows.push({ time, kind, user_name: user, server_name: null, ...extra });
  const login = (u: string, h: number, m: number) => ev(at(h, m), 'login', u);
  const spawn = (u: string, h: number, m: number, seconds: number, server = '') => {
    ev(new Date(at(h, m).getTime() - seconds * 1000), 'spawn-requested', u, { server_name: server });
    ev(at(h, m), 'spawn-ready', u, { server_name: server, seconds });
  };
  const stop = (u: string, h: number, m: number, reason: string, cull_reason?: string, server = '') =>
    ev(at(h, m), 'stop', u, { server_name: server, seconds: 0.5, reason, detail: JSON.stringify(cull_reason ? { cull_reason } : {}) });

  login('u1', 8, 5); spawn('u1', 8, 6, 1); ev(at(8, 30), 'activity', 'u1'); ev(at(8, 35), 'activity', 'u1');
  login('u2', 8, 20); spawn('u2', 8, 21, 2);
  stop('u1', 9, 6, 'cull', 'idle');
  login('u2', 9, 15);
  ev(at(9, 16), 'spawn-requested', 'u2', { server_name: 'big' });
  ev(at(9, 16, 30), 'spawn-failed', 'u2', { server_name: 'big', seconds: 30, reason: 'timeout', detail: JSON.stringify({ message: 'Server did not start in 30 s' }) });
  login('u3', 9, 30); spawn('u3', 9, 31, 3);
  stop('u3', 9, 59, 'cull', 'idle');
  login('u4', 10, 0); spawn('u4', 10, 1, 4);
  stop('u2', 10, 21, 'request');
  login('u5', 10, 45); spawn('u5', 10, 46, 5);
  ev(at(10, 50), 'spawn-requested', 'u5', { server_name: 'x' });
  ev(at(10, 50, 1), 'spawn-failed', 'u5', { server_name: 'x', seconds: 0.1, reason: 'command-not-found' });
  ev(at(11, 0), 'activity', 'u2');
  stop('u5', 11, 16, 'request');
  ev(at(11, 30), 'login-failed', 'mallory', { reason: 'invalid-credentials', detail: JSON.stringify({ ip: '10.0.0.9' }) });
  ev(at(11, 31), 'login-failed', 'u2', { reason: 'invalid-credentials' });
  stop('u4', 12, 1, 'cull', 'max_age');
  login('u1', 13, 10); spawn('u1', 13, 11, 6);
  login('u6', 14, 0); spawn('u6', 14, 1, 7, 'gpu');
  stop('u1', 15, 11, 'request');
  login('u1', 16, 0);
  login('u3', 16, 30); spawn('u3', 16, 31, 8);
  ev(at(16, 40), 'logout', 'u1');
  stop('u3', 17, 31, 'shutdown');
  // Outside the day: ignored by a report of the day.
  ev(new Date(D - 2 * HOUR), 'spawn-ready', 'u7', { server_name: '', seconds: 100 });
  ev(new Date(D - HOUR), 'stop', 'u7', { server_name: '', seconds: 1, reason: 'cull', detail: JSON.stringify({ cull_reason: 'idle' }) });
  ev(new Date(D - 1000), 'login', 'u7');
  ev(new Date(D + DAY), 'login', 'u7');
  return rows;
}

/** Hourly expectations of the scripted day, hour -> count (other hours 0). */
const ACTIVE_BY_HOUR: Record<number, number> = { 8: 2, 9: 2, 10: 2, 11: 1, 13: 1, 14: 1, 16: 2 };
const RUNNING_BY_HOUR: Record<number, number> = {
  8: 2, 9: 3, 10: 3, 11: 2, 12: 1, 13: 1, 14: 2, 15: 2, 16: 2, 17: 2, 18: 1, 19: 1, 20: 1, 21: 1, 22: 1, 23: 1,
};
const USERS = [
  { name: 'u1', logins: 3, spawns: 2, failures: 0, culls: 1, server_seconds: 3 * 3600 },
  { name: 'u2', logins: 2, spawns: 1, failures: 1, culls: 0, server_seconds: 2 * 3600 },
  { name: 'u3', logins: 2, spawns: 2, failures: 0, culls: 1, server_seconds: 28 * 60 + 3600 },
  { name: 'u4', logins: 1, spawns: 1, failures: 0, culls: 1, server_seconds: 2 * 3600 },
  { name: 'u5', logins: 1, spawns: 1, failures: 1, culls: 0, server_seconds: 30 * 60 },
  { name: 'u6', logins: 1, spawns: 1, failures: 0, culls: 0, server_seconds: 10 * 3600 - 60 },
];

/** Checks a report of the scripted day, hourly (from the API or the CLI's --json). */
function checkDay(t: Test, r: any): void {
  t.equal(r.from, iso(D), 'from');
  t.equal(r.to, iso(D + DAY), 'to');
  t.equal(r.bucket, 'hour');
  t.equal(r.active_users.length, 24, '24 hourly buckets');
  t.strictSame(r.active_users.map((b: any) => b.time), Array.from({ length: 24 }, (_, h) => iso(D + h * HOUR)), 'labelled by their start');
  t.strictSame(r.active_users.map((b: any) => b.count), Array.from({ length: 24 }, (_, h) => ACTIVE_BY_HOUR[h] ?? 0), 'active users per hour');
  t.strictSame(r.running_servers.map((b: any) => b.count), Array.from({ length: 24 }, (_, h) => RUNNING_BY_HOUR[h] ?? 0), 'running servers per hour');
  t.strictSame(r.spawns, { count: 8, p50: 4.5, p90: 7.3, p99: 7.93, mean: 4.5, max: 8 }, 'spawn count and percentiles (percentile_cont over 1..8 s)');
  t.strictSame(r.failures, { 'timeout': 1, 'command-not-found': 1 }, 'failures by reason');
  t.strictSame(r.culls, { 'idle': 2, 'max_age': 1 }, 'culls by reason');
  t.strictSame(r.stops, { cull: 3, request: 3, shutdown: 1 }, 'stops by reason');
  t.strictSame(r.totals, { active_users: 6, logins: 10, login_failures: 2, logouts: 1, spawn_requests: 10, spawns_throttled: 0 }, 'totals');
  t.strictSame(r.users.map(({ last_seen: _, ...u }: any) => u), USERS, 'per-user summaries (failed logins and users outside the day are not listed)');
  t.equal(r.users[0].last_seen, iso(at(16, 40).getTime()), "u1's last event of the day");
}

async function api(th: TestHub, route: string, token = ADMIN): Promise<{ status: number; body: any }> {
  const res = await fetch(`${th.publicUrl}/hub/api${route}`, { headers: { authorization: `token ${token}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Waits up to `ms` for `check` to return a truthy value. */
async function eventually<T>(check: () => Promise<T>, ms = 15_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 200))) {
    const v = await check();
    if (v || Date.now() > deadline) return v;
  }
}

const hubConfig = { hub: { api_tokens: { [ADMIN]: 'root', [USER]: 'alice' } }, authenticator: { admin_users: ['root'] } };

t.test('a scripted day comes back from GET /hub/api/activity', async (t) => {
  const th = await startTestHub(t, { config: hubConfig });
  await th.hub.ctx.db.insertInto('events').values(scriptedDay()).execute();
  const day = `from=${iso(D)}&to=${iso(D + DAY)}`;

  const hourly = await api(th, `/activity?${day}&bucket=hour`);
  t.equal(hourly.status, 200, 'GET /activity answers 200 to an admin');
  checkDay(t, hourly.body);

  const daily = await api(th, `/activity?${day}&bucket=day`);
  t.equal(daily.status, 200);
  t.strictSame(daily.body.active_users, [{ time: iso(D), count: 6 }], 'one daily bucket: 6 active users');
  t.strictSame(daily.body.running_servers, [{ time: iso(D), count: 6 }], '6 distinct servers ran that day');
  t.equal(daily.body.spawns.p50, 4.5);

  // A window in the middle of the day: u2's server started before it and still counts.
  const mid = await api(th, `/activity?from=${iso(D + 10 * HOUR)}&to=${iso(D + 12 * HOUR)}`);
  t.equal(mid.status, 200);
  t.strictSame(mid.body.running_servers.map((b: any) => b.count), [3, 2], 'servers running into the window are counted');
  t.strictSame(mid.body.spawns, { count: 2, p50: 4.5, p90: 4.9, p99: 4.99, mean: 4.5, max: 5 }, 'spawns in the window');
  t.strictSame(mid.body.culls, {}, 'no culls in the window');
  t.match(mid.body.users.find((u: any) => u.name === 'u2'), { logins: 0, spawns: 0, server_seconds: 21 * 60 }, "u2's server time is clipped to the window");

  // Defaults: the last day, hourly, up to now.
  const now = await api(th, '/activity');
  t.equal(now.status, 200, 'no parameters: the last day');
  t.equal(now.body.bucket, 'hour');
  t.ok(Math.abs(Date.parse(now.body.to) - Date.now()) < 60_000, 'to defaults to now');
  t.equal(Date.parse(now.body.to) - Date.parse(now.body.from), DAY, 'from defaults to a day earlier');
  t.ok(now.body.active_users.length === 24 || now.body.active_users.length === 25, 'hourly buckets');
  t.equal(now.body.running_servers.reduce((n: number, b: any) => Math.max(n, b.count), 0), 1, "u6's gpu server, never stopped, still runs");

  const bad: Array<[string, RegExp]> = [
    ['from=yesterday', /from must be an ISO 8601 timestamp/],
    ['to=2024-13-01', /to must be an ISO 8601 timestamp/],
    ['bucket=week', /bucket must be 'hour' or 'day'/],
    [`from=${iso(D + DAY)}&to=${iso(D)}`, /from must be before to/],
    [`from=${iso(D)}&to=${iso(D)}`, /from must be before to/],
    [`from=${iso(D - 401 * DAY)}&to=${iso(D)}`, /not be longer than 400 days/],
  ];
  for (const [q, message] of bad) {
    const res = await api(th, `/activity?${q}`);
    t.equal(res.status, 400, `400 for ${q}`);
    t.match(res.body, { status: 400, message }, 'with a JupyterHub error body');
  }
  t.equal((await api(th, `/activity?from=2020-01-01&to=${iso(Date.parse('2020-01-01') + 400 * DAY)}&bucket=day`)).status, 200, 'exactly 400 days is fine (dates alone are midnight UTC)');
  t.equal((await api(th, '/activity', USER)).status, 403, 'a user without admin:users gets 403');
  t.equal((await fetch(`${th.publicUrl}/hub/api/activity`)).status, 403, 'no credentials: 403');

  const doc = (await (await fetch(`${th.publicUrl}/hub/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
  t.ok(doc.paths['/activity'], 'GET /activity is in the OpenAPI document');
});

t.test('retention: events older than retention_days are deleted at start', async (t) => {
  const th = await startTestHub(t, { config: { ...hubConfig, activity_log: { retention_days: 30 } } });
  const { db } = th.hub.ctx;
  await db.insertInto('events').values([
    { time: new Date(Date.now() - 31 * DAY), kind: 'login', user_name: 'old' },
    { time: new Date(Date.now() - 29 * DAY), kind: 'login', user_name: 'kept' },
  ]).execute();
  await th.restart();
  const names = await eventually(async () => {
    const rows = await th.hub.ctx.db.selectFrom('events').select('user_name').where('kind', '=', 'login').execute();
    return rows.some((r) => r.user_name === 'old') ? null : rows.map((r) => r.user_name);
  });
  t.strictSame(names, ['kept'], 'the 31-day-old event is gone, the 29-day-old one kept');
});

t.test('a real login, spawn and stop become rows after the flush interval', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt install jupyterhub)')) return;
  const th = await startTestHub(t, { config: hubConfig });
  const alice = new BrowserClient(th.publicUrl);
  const landed = await alice.login('alice');
  t.equal(landed.status, 200, 'alice logs in and lands in her server');
  t.match(new URL(landed.url).pathname, /^\/user\/alice\//);
  const del = await fetch(`${th.publicUrl}/hub/api/users/alice/server`, { method: 'DELETE', headers: { authorization: `token ${ADMIN}` } });
  t.ok(del.status === 204 || del.status === 202, `the admin stops her server (${del.status})`);

  const { db } = th.hub.ctx;
  const rows = await eventually(async () => {
    const r = await db.selectFrom('events').selectAll().where('user_name', '=', 'alice').orderBy('time').orderBy('id').execute();
    return r.some((e) => e.kind === 'stop') ? r : null;
  });
  t.ok(rows, 'the rows arrive within the flush interval');
  if (!rows) return;
  // A periodic activity tick may fall in between; it is not what this checks.
  t.strictSame(rows.map((r) => r.kind).filter((k) => k !== 'activity'), ['login', 'spawn-requested', 'spawn-ready', 'stop'], 'login, spawn-requested, spawn-ready, stop');
  const ready = rows.find((r) => r.kind === 'spawn-ready')!;
  t.equal(ready.server_name, '', 'the default server');
  t.ok(typeof ready.seconds === 'number' && ready.seconds > 0 && ready.seconds < 120, `with the spawn duration (${ready.seconds} s)`);
  t.match(rows.at(-1), { kind: 'stop', reason: 'request' }, 'the stop was requested');

  const report = await api(th, '/activity');
  t.equal(report.body.spawns.count, 1, 'the report counts the spawn');
  t.equal(report.body.totals.logins, 1, 'and the login');
  t.match(report.body.users, [{ name: 'alice', logins: 1, spawns: 1, failures: 0 }]);
});

/** A log destination that keeps every JSON line. */
function captureLog() {
  const lines: any[] = [];
  const stream = {
    write(chunk: string) {
      for (const l of chunk.split('\n')) if (l.trim()) lines.push(JSON.parse(l));
    },
  };
  return { lines, logger: pino({ level: 'info', base: undefined }, stream) };
}

t.test('event log lines, flush on close, and `tshub activity` over the database left behind', async (t) => {
  const dir = tempDir(t);
  const raw = {
    hub: { bind_url: `http://127.0.0.1:${await freePort()}`, data_dir: dir, db_url: `pglite:${path.join(dir, 'db')}` },
    authenticator: { kind: 'dummy', allow_all: true },
    proxy: { api_url: `http://127.0.0.1:${await freePort()}` },
  };
  writeFileSync(path.join(dir, 'tshub.config.json'), JSON.stringify(raw));
  const result = validateConfig(raw, defaultRegistry());
  if (!result.ok) throw new Error(result.errors.join('; '));
  const { lines, logger } = captureLog();
  const hub = await buildHub({ config: result.config, logger });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await hub.close();
  });
  await hub.ctx.db.insertInto('events').values(scriptedDay()).execute();

  // Live events, emitted as the hub's own code does; the hub closes before the 2 s flush.
  const ev = hub.ctx.events;
  ev.emit('login', { user: 'zed' });
  ev.emit('spawn-requested', { user: 'zed', server: '' });
  ev.emit('spawn-ready', { user: 'zed', server: '', seconds: 2.3456 });
  ev.emit('login-failed', { user: 'eve', reason: 'invalid-credentials', ip: '10.1.2.3' });
  ev.emit('stop', { user: 'zed', server: '', seconds: 0.25, reason: 'cull' });
  ev.emit('request', { method: 'GET', handler: '/hub/home', code: 200, seconds: 0.01 });
  const events = lines.filter((l) => l.event && String(l.msg).startsWith('event '));
  t.strictSame(events.map((l) => l.event), ['login', 'spawn-requested', 'spawn-ready', 'login-failed', 'stop'], 'one structured line per event (none for requests)');
  t.match(events[2], { level: 30, event: 'spawn-ready', user: 'zed', server: '', seconds: 2.346, msg: 'event spawn-ready' }, 'at info, with user, server and seconds');
  t.match(events[3], { event: 'login-failed', user: 'eve', reason: 'invalid-credentials', ip: '10.1.2.3' }, 'failed logins carry the reason and address');
  t.match(events[4], { event: 'stop', user: 'zed', reason: 'cull' }, 'stops carry the reason');
  await hub.close();
  closed = true;

  const json = await runCli(dir, ['activity', '--from', iso(D), '--to', iso(D + DAY), '--json']);
  t.equal(json.code, 0, `tshub activity --json exits 0 ${json.stderr}`);
  checkDay(t, JSON.parse(json.stdout));

  const live = await runCli(dir, ['activity', '--json']);
  t.equal(live.code, 0);
  const recent = JSON.parse(live.stdout);
  t.match(recent.users.find((u: any) => u.name === 'zed'), { logins: 1, spawns: 1, culls: 1 }, "the live events were written when the hub closed");
  t.strictSame(recent.culls, { unspecified: 1 }, 'a cull without a cull_reason');
  t.equal(recent.totals.login_failures, 1);

  const text = await runCli(dir, ['activity', '--from', iso(D), '--to', iso(D + DAY), '--bucket', 'day']);
  t.equal(text.code, 0, 'the readable report');
  const out = text.stdout;
  t.match(out, `Activity from ${iso(D)} to ${iso(D + DAY)} (by day, UTC)`);
  t.match(out, /Active users\s+6\n/);
  t.match(out, /Logins\s+10\n/);
  t.match(out, /Spawns\s+8\n/);
  t.match(out, /COUNT\s+P50\s+P90\s+P99\s+MEAN\s+MAX\n\s*8\s+4\.5s\s+7\.3s\s+7\.93s\s+4\.5s\s+8s/, 'spawn percentiles');
  t.match(out, /timeout\s+1\n/);
  t.match(out, /command-not-found\s+1\n/);
  t.match(out, /idle\s+2\n/);
  t.match(out, /max_age\s+1\n/);
  t.match(out, new RegExp(`${iso(D).slice(0, 10)} 00:00Z\\s+6\\s+6\\n`), 'the daily bucket: 6 active users, 6 servers');
  t.match(out, /u1\s+3\s+2\s+0\s+1\s+3h 00m\s/, "u1's summary");
  t.match(out, /u6\s+1\s+1\s+0\s+0\s+9h 59m\s/, "u6's summary");

  const badBucket = await runCli(dir, ['activity', '--bucket', 'week']);
  t.equal(badBucket.code, 1, 'a bad --bucket exits 1');
  t.match(badBucket.stderr, "tshub: bucket must be 'hour' or 'day'");
  const help = await runCli(dir, ['activity', '--help']);
  t.match(help.stdout, /Usage: tshub activity/);
  t.match((await runCli(dir, ['--help'])).stdout, /tshub activity/, 'listed in tshub --help');
});
