// The activity log's writer on its own (an in-memory PGlite): batching, activity ticks, retention,
// the disabled mode and the event log lines. The end-to-end checks are in test/activity-log.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { sql } from 'kysely';
import { openDatabase } from '../db/open-database.js';
import { migrateToLatest } from '../db/migrate.js';
import { ActivityLog, type ActivityLogOptions } from './activity-log.js';
import { HubEvents } from './hub-events.js';

const MIN = 60_000;
const DAY = 86_400_000;

async function setup(t: Test, opts: Omit<Partial<ActivityLogOptions>, 'config'> & { config?: Partial<ActivityLogOptions['config']> } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-activity-log-'));
  const database = await openDatabase({ dbUrl: 'pglite:memory:', dataDir: dir });
  await migrateToLatest(database.db);
  const lines: any[] = [];
  const log = pino({ level: 'info', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const events = new HubEvents();
  const activity = ActivityLog.start({
    db: database.db, log, events, flushMs: 60_000, ...opts,
    config: { enabled: true, retention_days: 180, tick_minutes: 5, ...opts.config },
  });
  t.teardown(async () => {
    await activity.close();
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const rows = () => database.db.selectFrom('events').selectAll().orderBy('id').execute();
  return { db: database.db, events, activity, lines, rows };
}

const until = async (check: () => Promise<boolean>, ms = 5000) => {
  for (const end = Date.now() + ms; !(await check()) && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
};

t.test('events are buffered and written in one batch', async (t) => {
  const { events, activity, rows, lines } = await setup(t);
  events.emit('login', { user: 'alice' });
  events.emit('login-failed', { user: 'mallory', reason: 'invalid-credentials', ip: '10.0.0.1' });
  events.emit('spawn-failed', { user: 'alice', server: 'gpu', seconds: 1.5, reason: 'timeout', message: 'x'.repeat(5000) });
  events.emit('request', { method: 'GET', handler: '/', code: 200, seconds: 0.001 });
  t.equal((await rows()).length, 0, 'nothing is written on the event path');
  await activity.flush();
  const r = await rows();
  t.strictSame(r.map((e) => e.kind), ['login', 'login-failed', 'spawn-failed'], 'requests are not logged');
  t.match(r[1], { user_name: 'mallory', reason: 'invalid-credentials', detail: { ip: '10.0.0.1' } });
  t.match(r[2], { user_name: 'alice', server_name: 'gpu', seconds: 1.5, reason: 'timeout' });
  t.equal((r[2]!.detail as { message: string }).message.length, 2000, 'long text is clipped');
  t.ok(r[0]!.time instanceof Date && Date.now() - r[0]!.time.getTime() < 5000, 'the time of the event, not of the flush');
  t.strictSame(lines.filter((l) => l.event).map((l) => [l.event, l.msg]), [
    ['login', 'event login'], ['login-failed', 'event login-failed'], ['spawn-failed', 'event spawn-failed'],
  ], 'one log line per event');
});

t.test('a full buffer and the flush interval each write', async (t) => {
  const full = await setup(t, { batchSize: 3 });
  for (const user of ['a', 'b', 'c']) full.events.emit('login', { user });
  await until(async () => (await full.rows()).length === 3);
  t.equal((await full.rows()).length, 3, 'batchSize rows are written at once');

  const timed = await setup(t, { flushMs: 50 });
  timed.events.emit('logout', { user: 'a' });
  await until(async () => (await timed.rows()).length === 1);
  t.equal((await timed.rows()).length, 1, 'the interval writes the rest');
});

t.test('close writes what is buffered and stops listening', async (t) => {
  const { events, activity, rows } = await setup(t);
  events.emit('stop', { user: 'a', server: '', seconds: 0.2, reason: 'cull' });
  await activity.close();
  events.emit('login', { user: 'late' });
  t.strictSame((await rows()).map((r) => [r.kind, r.reason]), [['stop', 'cull']]);
});

t.test('activity ticks: at most one per user per tick_minutes', async (t) => {
  const { db, activity, rows } = await setup(t, { config: { tick_minutes: 5 } });
  const t0 = Date.now() - 30 * MIN;
  activity.recordActivity('alice', new Date(t0));
  activity.recordActivity('alice', new Date(t0 + 4 * MIN));
  activity.recordActivity('bob', new Date(t0 + 4 * MIN));
  activity.recordActivity('alice', new Date(t0 + 6 * MIN));
  await activity.flush();
  t.strictSame((await rows()).map((r) => [r.user_name, r.time.getTime() - t0]), [['alice', 0], ['bob', 4 * MIN], ['alice', 6 * MIN]]);

  // Derived from users.last_activity: one INSERT ... SELECT per tick.
  const now = new Date();
  await db.insertInto('users').values([
    { name: 'carol', last_activity: new Date(now.getTime() - 2 * MIN) },
    { name: 'dave', last_activity: new Date(now.getTime() - 20 * MIN) },
    { name: 'erin', last_activity: null },
    { name: 'frank', last_activity: new Date(now.getTime() - 1 * MIN) },
  ]).execute();
  activity.recordActivity('frank', new Date(now.getTime() - 1 * MIN));
  t.equal(await activity.recordTicks(now), 1, 'only carol: dave was idle, erin never active, frank already ticked');
  const carol = (await rows()).filter((r) => r.user_name === 'carol');
  t.strictSame(carol.map((r) => [r.kind, r.time.getTime()]), [['activity', now.getTime() - 2 * MIN]], 'at her last_activity');
  t.equal(await activity.recordTicks(new Date(now.getTime() + 1000)), 0, 'no new activity, no new tick');
  await db.updateTable('users').set({ last_activity: new Date(now.getTime() + 1 * MIN) }).where('name', '=', 'carol').execute();
  t.equal(await activity.recordTicks(new Date(now.getTime() + 2 * MIN)), 0, 'active again within the same tick window: none');
  await db.updateTable('users').set({ last_activity: new Date(now.getTime() + 9 * MIN) }).where('name', '=', 'carol').execute();
  t.equal(await activity.recordTicks(new Date(now.getTime() + 10 * MIN)), 1, 'active again a tick later: one more');
});

t.test('retention deletes old rows; 0 keeps them', async (t) => {
  const now = Date.now();
  const old = (db: Awaited<ReturnType<typeof setup>>['db']) => db.insertInto('events').values([
    { time: new Date(now - 11 * DAY), kind: 'login', user_name: 'old' },
    { time: new Date(now - 9 * DAY), kind: 'login', user_name: 'new' },
  ]).execute();
  const ten = await setup(t, { config: { retention_days: 10 } });
  await old(ten.db);
  t.equal(await ten.activity.prune(), 1);
  t.strictSame((await ten.rows()).map((r) => r.user_name), ['new']);
  const forever = await setup(t, { config: { retention_days: 0 } });
  await old(forever.db);
  t.equal(await forever.activity.prune(), 0);
  t.equal((await forever.rows()).length, 2);
});

t.test('disabled: no rows, but the event log lines remain', async (t) => {
  const { events, activity, rows, lines } = await setup(t, { config: { enabled: false } });
  events.emit('login', { user: 'alice' });
  activity.recordActivity('alice');
  await activity.flush();
  t.equal(await activity.recordTicks(), 0);
  t.equal((await rows()).length, 0, 'nothing written');
  t.strictSame(lines.filter((l) => l.event).map((l) => l.event), ['login'], 'the line is still logged');
});

t.test('a failed write keeps the rows for the next flush', async (t) => {
  const { db, events, activity, rows, lines } = await setup(t);
  await sql`alter table events rename to events_away`.execute(db);
  events.emit('login', { user: 'alice' });
  await activity.flush();
  t.match(lines.find((l) => l.msg === 'activity log: could not write events'), { level: 40, pending: 1, dropped: 0 }, 'a warning');
  await sql`alter table events_away rename to events`.execute(db);
  await activity.flush();
  t.strictSame((await rows()).map((r) => r.user_name), ['alice'], 'written once the table is back');
});
